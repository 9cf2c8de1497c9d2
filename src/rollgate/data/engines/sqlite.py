"""SQLite: the online backup API, ``PRAGMA integrity_check``, and the backup API back again.

Both directions use SQLite's own backup API, so they work while the application has the
database open: a backup is a consistent snapshot, and a restore replaces every page in one
transaction (readers see the old or the new database, never a mix).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from rollgate.data.engines.base import atomic_file, is_corrupt, sha256_file
from rollgate.errors import DataError

HEADER = b"SQLite format 3\x00"
LOCK_WAIT_S = 30.0  # how long a backup or restore waits for another process's lock
MAX_PROBLEMS = 3  # integrity_check lines quoted in an error


class SQLiteEngine:
    """Backs up one SQLite database file."""

    kind = "sqlite"
    suffix = ".sqlite3"

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        """E.g. ``sqlite /srv/app/app.db``."""
        return f"sqlite {self.path}"

    def backup(self, dest: Path) -> str:
        """Copy the live database page by page into ``dest``; its sha256."""
        if not self.path.is_file():
            raise DataError(f"backup of {self.describe()} failed: the database file does not "
                            "exist; check the database's url in the spec")
        with atomic_file(dest, f"backup of {self.describe()}") as tmp:
            try:
                _copy(self.path, tmp, self_contained=True)
            except sqlite3.Error as exc:
                raise DataError(f"backup of {self.describe()} failed: {exc}; check that the "
                                "file is a SQLite database and not locked for long") from None
            digest = sha256_file(tmp)
        return digest

    def check(self, path: Path) -> str:
        """Header, size and ``PRAGMA integrity_check`` of a backup file, opened read-only."""
        _check_header(path)
        try:
            conn = _open_readonly(path, immutable=True)
            try:
                problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master "
                    "WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                ).fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise is_corrupt(path, f"SQLite cannot read it ({exc})") from None
        if problems != ["ok"]:
            raise is_corrupt(path, "integrity_check: " + "; ".join(problems[:MAX_PROBLEMS]))
        return f"integrity_check ok, {tables} tables"

    def restore(self, path: Path) -> None:
        """Check the backup, then copy it over the live database in one transaction."""
        self.check(path)
        try:
            _copy(path, self.path, immutable_source=True)
        except sqlite3.Error as exc:
            raise DataError(f"restore of {self.describe()} from {path.name} failed: {exc}; "
                            "the database was left as it was. Stop what holds it locked "
                            "and try again") from None


def _open_readonly(path: Path, immutable: bool = False) -> sqlite3.Connection:
    """Open a database read-only (never creating it); immutable for files nobody writes."""
    uri = path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True)


def _copy(src: Path, dst: Path, *, immutable_source: bool = False,
          self_contained: bool = False) -> None:
    """Copy every page of database ``src`` over database ``dst`` with the backup API.

    ``src`` is opened read-only. ``self_contained`` switches the copy to a rollback journal,
    so a backup of a WAL database is one file that needs no -wal or -shm beside it.
    """
    deadline = time.monotonic() + LOCK_WAIT_S

    def give_up_when_locked(status: int, _remaining: int, _total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and \
                time.monotonic() > deadline:
            raise sqlite3.OperationalError(
                f"database is locked by another process for over {LOCK_WAIT_S:.0f} s")

    source = _open_readonly(src, immutable=immutable_source)
    try:
        target = sqlite3.connect(dst, timeout=LOCK_WAIT_S)
        try:
            source.backup(target, progress=give_up_when_locked)
            if self_contained:
                target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()


def _check_header(path: Path) -> None:
    """The 100-byte header: magic string, page size, and file size = pages x page size.

    The in-header page count is trusted only when SQLite marks it valid (its change counter
    equals the version-valid-for number), as SQLite itself does.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise is_corrupt(path, f"it cannot be read ({exc.strerror})") from None
    if len(header) < 100 or not header.startswith(HEADER):
        raise is_corrupt(path, "it has no SQLite header (damaged or not a SQLite file)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise is_corrupt(path, f"its header says page size {page_size}, which is invalid")
    pages = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]
    if pages and counter_valid and size != pages * page_size:
        raise is_corrupt(path, f"it has {size} bytes but its header says {pages} pages of "
                               f"{page_size} bytes ({pages * page_size}): truncated or padded")
    if size % page_size:
        raise is_corrupt(path, f"its size {size} is not a multiple of the page size "
                               f"{page_size}: truncated")
