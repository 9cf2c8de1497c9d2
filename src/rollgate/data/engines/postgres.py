"""PostgreSQL: ``pg_dump -Fc`` streamed and hashed, checked by reading it whole, restored in
one transaction.

The restore pipes ``pg_restore -f -`` (the dump as SQL) straight into one ``psql`` session
running ``--single-transaction`` with ``ON_ERROR_STOP``. That session first drops every table,
view and sequence of the database (so tables created after the backup go too), then runs the
dump's SQL, then reads one last script from a pipe that rollgate writes only once pg_restore
has exited: nothing when pg_restore succeeded (psql commits), a failing statement when it
did not (psql rolls back). A damaged or truncated dump therefore never commits half a restore.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, unquote, urlencode

from rollgate.data.engines.base import (
    Finished,
    Secrets,
    atomic_file,
    child_env,
    is_corrupt,
    read_all,
    read_tail,
    reason,
    sha256_file,
    split_url,
    stream_to_file,
    tool,
)
from rollgate.errors import DataError

SCHEMES = ("postgresql", "postgres")
# zlib level of the dump. 1 (fastest) rather than pg_dump's default 6: on a 2-core machine
# it is what lets backup + full check cost no more than a plain pg_dump, and for typical
# table data it makes files only a little larger (bench/backup.py measures both).
COMPRESS = 1

# Runs first in the restore's transaction: marks the verdict pending, then drops every
# relation the restore must replace, dependants included. Extension members and sequences
# owned by a column ('e', 'a', 'i' dependencies) go with their extension or table.
PROLOGUE = r"""
SET client_min_messages = warning;
SELECT pg_catalog.set_config('rollgate.verdict', 'pending', true);
DO $rollgate$
DECLARE
  rel record;
BEGIN
  FOR rel IN
    SELECT n.nspname, c.relname,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                          ELSE 'TABLE' END AS kind
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT c.relispartition
      AND n.nspname <> 'information_schema'
      AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass
                        AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
  LOOP
    EXECUTE format('DROP %s IF EXISTS %I.%I CASCADE', rel.kind, rel.nspname, rel.relname);
  END LOOP;
END
$rollgate$;
"""

# What rollgate writes to psql's last script once pg_restore has exited 0.
CONFIRM = "SELECT pg_catalog.set_config('rollgate.verdict', 'ok', true);\n"

# Runs last: without the confirmation the transaction fails and psql rolls it back.
ABORT_MARK = "rollgate: pg_restore did not finish, the restore is rolled back"
FINAL = f"""
DO $rollgate$
BEGIN
  IF pg_catalog.current_setting('rollgate.verdict', true) IS DISTINCT FROM 'ok' THEN
    RAISE EXCEPTION '{ABORT_MARK}';
  END IF;
END
$rollgate$;
"""

# pg_restore --verbose says one of these per entry of the dump's table of contents.
ENTRY_LINE = re.compile(r"^pg_restore: (creating|processing data for|executing) ", re.MULTILINE)
TABLE_LINE = re.compile(r'^pg_restore: creating TABLE "', re.MULTILINE)


class PostgresEngine:
    """Backs up one PostgreSQL database with pg_dump's custom format."""

    kind = "postgres"
    suffix = ".dump"

    def __init__(self, url: str, *, compress: int = COMPRESS) -> None:
        self.compress = compress
        parts, port = split_url(url, SCHEMES, "PostgreSQL")
        query = dict(parse_qsl(parts.query))
        password = query.pop("password", None) or (
            unquote(parts.password) if parts.password is not None else None)
        self.user = unquote(parts.username) if parts.username else ""
        self.host = parts.hostname or ""
        self.port = port or 5432
        self.database = unquote(parts.path.lstrip("/")) or self.user
        self._password = password
        self._secrets = Secrets.of(password, url)
        # file -> (sha256, summary) of what pg_restore read back while it was written
        self._read_back: dict[str, tuple[str, str]] = {}
        # libpq takes a URI as the database name; this one carries no password.
        user = f"{parts.username}@" if parts.username else ""
        netloc = user + parts.netloc.rsplit("@", 1)[-1]
        self._conninfo = parts._replace(scheme="postgresql", netloc=netloc,
                                        query=urlencode(query)).geturl()

    def describe(self) -> str:
        """E.g. ``postgres postgres@127.0.0.1:5432/app`` (no password)."""
        user = f"{self.user}@" if self.user else ""
        return f"postgres {user}{self.host or 'localhost'}:{self.port}/{self.database}"

    def _env(self) -> dict[str, str]:
        return child_env({"PGPASSWORD": self._password} if self._password else {})

    # --- backup ------------------------------------------------------------------------

    def backup(self, dest: Path) -> str:
        """``pg_dump -Fc`` of the database into ``dest``, hashed while it streams.

        The same bytes go to ``pg_restore -f /dev/null`` as they are written, so the dump is
        read back in full (every compressed block inflated) at no extra read of the file.
        """
        what = f"backup of {self.describe()}"
        argv = [tool("pg_dump"), "--format=custom", f"--compress={self.compress}",
                "--no-password", "-d", self._conninfo]
        read_back = [tool("pg_restore"), "--verbose", "-f", os.devnull]
        with atomic_file(dest, what) as tmp:
            try:
                streamed = stream_to_file(argv, tmp, env=self._env(), secrets_=self._secrets,
                                          reader=read_back)
            except OSError as exc:
                raise DataError(f"{what} failed: writing {dest.parent} failed "
                                f"({exc.strerror}); free space or fix permissions and "
                                "try again") from None
            done, reader = streamed.dump, streamed.reader
            if not done.ok:
                raise DataError(f"{what} failed: pg_dump exited {done.code}: "
                                f"{reason(done.stderr)}; check that the database is "
                                "reachable and the credentials are right, then try again",
                                details=done.stderr)
            if reader is not None and not reader.ok:
                raise DataError(f"{what} failed: pg_restore could not read pg_dump's output "
                                f"back ({reason(reader.stderr)}); use pg_dump and pg_restore "
                                "of the same version", details=reader.stderr)
        self._read_back[str(dest.resolve())] = (streamed.digest, _summary(streamed.reader_log))
        return streamed.digest

    # --- check -------------------------------------------------------------------------

    def check(self, path: Path) -> str:
        """``pg_restore --verbose -f /dev/null``: the table of contents and a full read.

        The full read inflates every table's data, so a truncated file or a damaged
        compressed block (zlib's checksum) fails here rather than at restore time (the table
        of contents alone, ``pg_restore --list``, notices neither). A file this engine wrote
        and read back in full is not read again when its sha256 shows it is still exactly
        those bytes.
        """
        known = self._read_back.get(str(path.resolve()))
        if known is not None and known[0] == sha256_file(path):
            return f"{known[1]}; data read in full as it was written"
        with tempfile.TemporaryFile() as err:
            code = subprocess.run([tool("pg_restore"), "--verbose", "-f", os.devnull, str(path)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=err, env=self._env(), check=False).returncode
            log = read_all(err, self._secrets)
        if code != 0:
            why = reason(log) or f"pg_restore exited {code}"
            raise is_corrupt(path, why.removeprefix("pg_restore: error: "))
        return f"{_summary(log)}; data read in full"

    # --- restore -----------------------------------------------------------------------

    def restore(self, path: Path) -> None:
        """Replace the database's content with the dump's, all or nothing."""
        what = f"restore of {self.describe()} from {path.name}"
        if not path.is_file():
            raise DataError(f"{what} failed: the file does not exist")
        restore, psql = self._restore_pipeline(path)
        if restore.ok and psql.ok:
            return
        if restore.ok or _lost_its_reader(restore):  # psql failed (and stopped reading)
            why = f"psql exited {psql.code}: {reason(psql.stderr)}"
        else:  # the dump could not be read: the root cause, whatever psql made of it
            why = f"pg_restore exited {restore.code}: {reason(restore.stderr)}"
        raise DataError(f"{what} failed: {why}; it was rolled back and the database is as it "
                        "was. Run `rollgate backup verify` on the backup, or restore "
                        "another one", details=f"{restore.stderr}\n{psql.stderr}".strip())

    def _restore_pipeline(self, path: Path) -> tuple[Finished, Finished]:
        """pg_restore | psql; psql commits only if rollgate then confirms pg_restore's success.

        The confirmation is the last script psql reads, from a pipe only rollgate writes: it
        sets ``rollgate.verdict`` to ``ok`` once pg_restore has exited 0. Without it (pg_restore
        failed, or rollgate itself was stopped) the final check raises and psql rolls back.
        """
        env = self._env()
        verdict_r, verdict_w = os.pipe()
        with os.fdopen(verdict_w, "wb") as verdict, tempfile.TemporaryFile() as restore_err, \
                tempfile.TemporaryFile() as psql_err:
            try:
                restore = subprocess.Popen(
                    [tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "-f", "-",
                     str(path)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=restore_err,
                    env=env)
                psql = self._start_psql(restore, verdict_r, psql_err, env)
            finally:
                os.close(verdict_r)
            restore_code = restore.wait()
            with suppress(BrokenPipeError):  # psql has already stopped: it did not commit
                if restore_code == 0:
                    verdict.write(CONFIRM.encode())
                verdict.close()
            psql_code = psql.wait()
            return (Finished(restore_code, "", read_tail(restore_err, self._secrets)),
                    Finished(psql_code, "", read_tail(psql_err, self._secrets)))

    def _start_psql(self, restore: subprocess.Popen[bytes], verdict_fd: int, stderr: IO[bytes],
                    env: dict[str, str]) -> subprocess.Popen[bytes]:
        """psql reading pg_restore's output, in one transaction between PROLOGUE and FINAL."""
        assert restore.stdout is not None
        try:
            return subprocess.Popen(
                [tool("psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1",
                 "--single-transaction", "-d", self._conninfo, "-c", PROLOGUE,
                 "-f", "-", "-f", f"/dev/fd/{verdict_fd}", "-c", FINAL],
                stdin=restore.stdout, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                pass_fds=(verdict_fd,))
        except BaseException:
            restore.kill()
            restore.wait()
            raise
        finally:
            restore.stdout.close()


def _summary(log: str) -> str:
    """What pg_restore --verbose went through: entries and tables."""
    entries, tables = len(ENTRY_LINE.findall(log)), len(TABLE_LINE.findall(log))
    return f"pg_restore: {entries} entries, {tables} tables"


def _lost_its_reader(done: Finished) -> bool:
    """pg_restore stopped only because psql had stopped reading its output."""
    return done.code == -signal.SIGPIPE or "Broken pipe" in done.stderr
