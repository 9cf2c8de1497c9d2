"""What every backup engine shares: the protocol, atomic files, hashing and running tools.

A backup file appears under its final name only once it is complete: engines write to a
hidden temporary sibling and ``os.replace`` it into place, so a failure leaves no file.
Tools get passwords through the environment, never on their command line, and whatever
they print is masked before it reaches an error message.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, cast, runtime_checkable
from urllib.parse import SplitResult, unquote, urlsplit

from rollgate.errors import BackupCorrupt, DataError, UsageError
from rollgate.redact import MASK, excerpt, redact

CHUNK = 1 << 20  # bytes per read when streaming or hashing
TAIL = 2000  # characters of a tool's output kept for an error message
REASON_CHARS = 300  # characters of a tool's reason quoted in a message
ERROR_LINE = re.compile(r"^ERROR\b|\bERROR:|\berror:|\bFATAL:")
MIN_SECRET = 4  # shorter passwords are not masked inside text (they would mangle it)


@runtime_checkable
class BackupEngine(Protocol):
    """Backs up, checks and restores one database."""

    kind: str
    suffix: str

    def backup(self, dest: Path) -> str:
        """Write a complete backup to ``dest``; return its sha256 hex digest."""
        ...

    def check(self, path: Path) -> str:
        """The engine's own check of a backup file: a one-line summary, or BackupCorrupt."""
        ...

    def restore(self, path: Path) -> None:
        """Replace the database's content with the backup's."""
        ...

    def describe(self) -> str:
        """Engine and database, without any password."""
        ...


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(view):
            digest.update(view[:n])
    return digest.hexdigest()


# --- files -------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


@contextmanager
def atomic_file(dest: Path, what: str) -> Iterator[Path]:
    """A temporary sibling of ``dest`` to write; moved into place when the block succeeds.

    The file is fsynced before the move and the folder after it. On any error the temporary
    file is removed, so ``dest`` either is complete or does not exist.
    """
    if dest.exists():
        raise DataError(f"{what}: {dest} already exists; backups never overwrite a file, "
                        "choose a new name")
    if not dest.parent.is_dir():
        raise DataError(f"{what}: the folder {dest.parent} does not exist; create it "
                        "and try again")
    # Hidden, marked partial, and with the final suffix (some tools pick a format by it).
    tmp = dest.with_name(f".{dest.stem}.partial-{secrets.token_hex(4)}{dest.suffix}")
    try:
        yield tmp
        if not tmp.is_file():
            raise DataError(f"{what}: nothing was written to {tmp.name}")
        _fsync_file(tmp)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def is_corrupt(path: Path, why: str) -> BackupCorrupt:
    """The error for a backup file that fails its engine's check."""
    return BackupCorrupt(f"{path.name} is corrupt: {why}; it cannot be restored "
                         "(use another backup)")


# --- secrets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    """Values that must never appear in a message."""

    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, *values: str | None) -> Secrets:
        """Mask these values (empty and very short ones are skipped), longest first."""
        kept = {v for v in values if v and len(v) >= MIN_SECRET}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by a mask."""
        return redact(text, list(self.values))


def url_password(url: str) -> str | None:
    """The password of a URL (percent-decoded), or None."""
    try:
        parts = urlsplit(url)
        return unquote(parts.password) if parts.password is not None else None
    except ValueError:
        return None


def url_without_password(parts: SplitResult) -> str:
    """A URL with its password replaced by a mask (for messages and logs)."""
    if parts.password is None:
        return parts.geturl()
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:{MASK}@{host}").geturl()


def split_url(url: str, schemes: tuple[str, ...], engine: str) -> tuple[SplitResult, int | None]:
    """A database URL's parts and port (``scheme+driver://`` accepted); UsageError for another
    scheme or a port that is not a number."""
    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0] not in schemes:
        starts = " or ".join(f"{scheme}://" for scheme in schemes)
        raise UsageError(f"a {engine} url starts with {starts}, not {parts.scheme}://; "
                         "fix the database's url in the spec")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"the {engine} url {url_without_password(parts)} has an invalid "
                         "port; fix the database's url in the spec") from None
    return parts, port


# --- tools -------------------------------------------------------------------------------


def tool(*names: str) -> str:
    """The first of ``names`` found on PATH (e.g. mariadb-dump, then mysqldump)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise DataError(f"{' or '.join(names)} is not installed (not found on PATH); install the "
                    "database's client tools on the machine that runs rollgate")


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """rollgate's environment plus ``extra`` (passwords travel here, not in argv)."""
    return {**os.environ, **extra}


def read_tail(f: IO[bytes], secrets_: Secrets, limit: int = TAIL) -> str:
    """The last ``limit`` characters a tool wrote to ``f``, masked and stripped."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - limit * 4))
    text = f.read().decode("utf-8", "replace")
    return secrets_.mask(excerpt(text.strip(), limit))


def read_all(f: IO[bytes], secrets_: Secrets) -> str:
    """Everything a tool wrote to ``f``, masked."""
    f.seek(0)
    return secrets_.mask(f.read().decode("utf-8", "replace"))


def last_line(text: str) -> str:
    """The last non-empty line of a text, or ''."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def reason(text: str) -> str:
    """A tool's one-line reason: its first error line (``ERROR``, ``error:``, ``FATAL:``),
    else its last line; shortened to REASON_CHARS."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.search(line)]
    found = errors[0] if errors else (lines[-1] if lines else "")
    return found if len(found) <= REASON_CHARS else found[:REASON_CHARS - 3] + "..."


@dataclass(frozen=True)
class Finished:
    """How a tool ended: exit code and the masked tails of its output."""

    code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when it exited 0."""
        return self.code == 0


def run_tool(argv: Sequence[str] | str, *, env: Mapping[str, str], secrets_: Secrets,
             stdin: IO[bytes] | None = None, cwd: Path | None = None,
             shell: bool = False) -> Finished:
    """Run a tool to its end; its output goes to temporary files (never a full pipe)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(
                argv, stdin=stdin if stdin is not None else subprocess.DEVNULL, stdout=out,
                stderr=err, env=dict(env), cwd=cwd, shell=shell, check=False,
                executable="/bin/sh" if shell else None,
            )
        except OSError as exc:
            return Finished(127, "", secrets_.mask(str(exc)))
        return Finished(proc.returncode, read_tail(out, secrets_), read_tail(err, secrets_))


@dataclass(frozen=True)
class Streamed:
    """A streamed dump: the file's sha256, how the dump tool ended, how the reader ended."""

    digest: str
    dump: Finished
    reader: Finished | None  # None when nothing read the stream alongside
    reader_log: str = ""  # all the reader wrote to stderr (masked)


def stream_to_file(argv: Sequence[str], tmp: Path, *, env: Mapping[str, str],
                   secrets_: Secrets, reader: Sequence[str] | None = None) -> Streamed:
    """Run a dump tool, writing its stdout to ``tmp`` in 1 MiB chunks while hashing it.

    ``reader``, when given, is a command that gets the same bytes on its stdin as they are
    written (e.g. a tool that reads the whole dump back), so checking costs no second read.
    If writing the file fails, the processes are killed and the OSError propagates.
    """
    digest = hashlib.sha256()
    view = memoryview(bytearray(CHUNK))
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as reader_err, \
            tmp.open("wb", buffering=0) as out:
        dump = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, env=dict(env))
        procs = [dump]
        stdout = cast(io.BufferedReader, dump.stdout)  # its readinto fills whole chunks
        sink: IO[bytes] | None = None
        try:
            if reader is not None:
                procs.append(subprocess.Popen(list(reader), stdin=subprocess.PIPE,
                                              stdout=subprocess.DEVNULL, stderr=reader_err,
                                              env=dict(env)))
                sink = procs[1].stdin
            for pipe in (stdout, sink):
                if pipe is not None:
                    _widen_pipe(pipe.fileno())
            while n := stdout.readinto(view):
                chunk = view[:n]
                digest.update(chunk)
                out.write(chunk)
                if sink is not None:
                    sink = _feed(sink, chunk)
        except BaseException:
            for proc in procs:
                proc.kill()
                proc.wait()
            raise
        finally:
            stdout.close()
            if sink is not None:
                with suppress(BrokenPipeError):
                    sink.close()
        codes = [proc.wait() for proc in procs]
        dumped = Finished(codes[0], "", read_tail(err, secrets_))
        if reader is None:
            return Streamed(digest.hexdigest(), dumped, None)
        return Streamed(digest.hexdigest(), dumped,
                        Finished(codes[1], "", read_tail(reader_err, secrets_)),
                        read_all(reader_err, secrets_))


def _feed(sink: IO[bytes], chunk: memoryview) -> IO[bytes] | None:
    """Write a chunk to a reader's stdin; None once the reader has stopped reading."""
    try:
        sink.write(chunk)
        return sink
    except BrokenPipeError:  # the reader gave up; its exit code and stderr say why
        with suppress(BrokenPipeError):
            sink.close()
        return None


def _widen_pipe(fd: int) -> None:
    """Ask Linux for a 1 MiB pipe buffer (fewer wake-ups); elsewhere a no-op."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is None:
        return
    with suppress(OSError):  # over the user's pipe-max-size: the default buffer works too
        fcntl.fcntl(fd, setpipe, CHUNK)
