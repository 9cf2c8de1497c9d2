"""MariaDB and MySQL: ``mariadb-dump`` of one database streamed and hashed, a text check, and
a restore that puts the database back as it was when the dump fails to apply.

MariaDB cannot restore inside a transaction (DDL commits), so a restore is made safe in
steps: the backup must pass its check (complete, parseable text) before anything is touched;
then a snapshot of the database as it is now is taken; then every table and view is dropped
and the dump is fed to the ``mariadb`` client. If that fails, the snapshot is applied the same
way, and the error says so. The password travels in MYSQL_PWD, never on a command line.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote

from rollgate.data.engines.base import (
    Finished,
    Secrets,
    atomic_file,
    child_env,
    is_corrupt,
    reason,
    run_tool,
    split_url,
    stream_to_file,
    tool,
)
from rollgate.errors import DataError, UsageError

SCHEMES = ("mysql", "mariadb")
HEADERS = ("-- MariaDB dump", "-- MySQL dump")
COMPLETED = "-- Dump completed"
HEAD_LINES = 3  # the header may follow MariaDB's "enable the sandbox mode" line

# Drops every view, then every table and sequence, of the current database in two statements.
DROP_ALL = """
SET SESSION group_concat_max_len = 1073741824;
SET FOREIGN_KEY_CHECKS = 0;
SET @rollgate_views = (SELECT GROUP_CONCAT(CONCAT('`', REPLACE(table_name, '`', '``'), '`'))
  FROM information_schema.tables
  WHERE table_schema = DATABASE() AND table_type = 'VIEW');
SET @rollgate_sql = IF(@rollgate_views IS NULL, 'SELECT 0',
  CONCAT('DROP VIEW IF EXISTS ', @rollgate_views));
PREPARE rollgate_drop FROM @rollgate_sql;
EXECUTE rollgate_drop;
SET @rollgate_tables = (SELECT GROUP_CONCAT(CONCAT('`', REPLACE(table_name, '`', '``'), '`'))
  FROM information_schema.tables
  WHERE table_schema = DATABASE() AND table_type NOT IN ('VIEW', 'TEMPORARY'));
SET @rollgate_sql = IF(@rollgate_tables IS NULL, 'SELECT 0',
  CONCAT('DROP TABLE IF EXISTS ', @rollgate_tables));
PREPARE rollgate_drop FROM @rollgate_sql;
EXECUTE rollgate_drop;
"""


class MariaDBEngine:
    """Backs up one MariaDB or MySQL database as mariadb-dump SQL text."""

    kind = "mariadb"
    suffix = ".sql"

    def __init__(self, url: str) -> None:
        parts, port = split_url(url, SCHEMES, "MariaDB")
        self.database = unquote(parts.path.lstrip("/"))
        if not self.database:
            raise UsageError("the MariaDB url names no database (mysql://user@host:port/DB); "
                             "add it")
        self.user = unquote(parts.username) if parts.username else ""
        self.host = parts.hostname or "localhost"
        self.port = port or 3306
        self._socket = dict(parse_qsl(parts.query)).get("unix_socket")
        self._password = unquote(parts.password) if parts.password is not None else None
        self._secrets = Secrets.of(self._password, url)

    def describe(self) -> str:
        """E.g. ``mariadb root@127.0.0.1:3306/app`` (no password)."""
        user = f"{self.user}@" if self.user else ""
        return f"mariadb {user}{self.host}:{self.port}/{self.database}"

    def _env(self) -> dict[str, str]:
        return child_env({"MYSQL_PWD": self._password} if self._password else {})

    def _connection(self) -> list[str]:
        """Client options for the server (never the password)."""
        where = ([f"--socket={self._socket}"] if self._socket else
                 ["--protocol=TCP", f"--host={self.host}", f"--port={self.port}"])
        return [*where, *([f"--user={self.user}"] if self.user else [])]

    # --- backup ------------------------------------------------------------------------

    def backup(self, dest: Path) -> str:
        """``mariadb-dump`` of the database into ``dest``, hashed while it streams."""
        what = f"backup of {self.describe()}"
        argv = [tool("mariadb-dump", "mysqldump"), *self._connection(), "--single-transaction",
                "--routines", "--triggers", "--add-drop-table", "--hex-blob",
                "--default-character-set=utf8mb4", self.database]
        with atomic_file(dest, what) as tmp:
            try:
                streamed = stream_to_file(argv, tmp, env=self._env(), secrets_=self._secrets)
            except OSError as exc:
                raise DataError(f"{what} failed: writing {dest.parent} failed "
                                f"({exc.strerror}); free space or fix permissions and "
                                "try again") from None
            done = streamed.dump
            if not done.ok:
                raise DataError(f"{what} failed: mariadb-dump exited {done.code}: "
                                f"{reason(done.stderr)}; check that the database is "
                                "reachable and the credentials are right, then try again",
                                details=done.stderr)
        return streamed.digest

    # --- check -------------------------------------------------------------------------

    def check(self, path: Path) -> str:
        """A complete mariadb-dump file: UTF-8 text, its header, and its "Dump completed"."""
        tables = views = 0
        head: list[str] = []
        last = ""
        try:
            with path.open("rb") as f:
                for number, raw in enumerate(f, 1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise is_corrupt(path, f"line {number} is not UTF-8 text") from None
                    if number <= HEAD_LINES:
                        head.append(line)
                    last = line if line.strip() else last
                    tables += line.startswith("CREATE TABLE `")
                    views += line.startswith("/*!50001 VIEW `")
        except OSError as exc:
            raise is_corrupt(path, f"it cannot be read ({exc.strerror})") from None
        if not any(line.startswith(HEADERS) for line in head):
            raise is_corrupt(path, "it does not start like a mariadb-dump file")
        if not last.startswith(COMPLETED):
            raise is_corrupt(path, f'it does not end with "{COMPLETED}" (truncated)')
        return f"mariadb-dump text complete: {tables} tables, {views} views"

    # --- restore -----------------------------------------------------------------------

    def restore(self, path: Path) -> None:
        """Replace the database's tables with the dump's; put them back if that fails."""
        what = f"restore of {self.describe()} from {path.name}"
        self.check(path)
        snapshot = path.with_name(f".pre-restore-{secrets.token_hex(4)}{self.suffix}")
        try:
            self.backup(snapshot)
        except DataError as exc:
            raise DataError(f"{what} did not start, nothing was changed: the snapshot taken "
                            f"first failed ({exc.message})", details=exc.details) from None
        keep_snapshot = True  # unless the outcome is known: restored, or put back
        try:
            failed = self._apply(path)
            keep_snapshot = failed is not None
            if failed is None:
                return
            undo_failed = self._apply(snapshot)
            keep_snapshot = undo_failed is not None
            if undo_failed is None:
                raise DataError(f"{what} failed: {failed}; the database was put back as it "
                                "was before the restore. Check the backup with `rollgate "
                                "backup verify`, or restore another one")
            raise DataError(f"{what} failed: {failed}; putting the database back failed too: "
                            f"{undo_failed}. Its content before the restore is in {snapshot}: "
                            f"load it with `mariadb {self.database} < {snapshot}` once the "
                            "server answers")
        finally:
            if not keep_snapshot:
                snapshot.unlink(missing_ok=True)

    def _apply(self, path: Path) -> str | None:
        """Drop every table and view, then run the dump; None, or why it failed."""
        client = tool("mariadb", "mysql")
        base = [client, *self._connection(), "--batch", "--skip-column-names"]
        if Path(client).name == "mariadb":  # a failing INSERT would be echoed, rows and all
            base.append("--skip-print-query-on-error")
        dropped = run_tool([*base, "-e", DROP_ALL, self.database], env=self._env(),
                           secrets_=self._secrets)
        if not dropped.ok:
            return _why("dropping the tables", dropped)
        with path.open("rb") as dump:
            loaded = run_tool([*base, self.database], env=self._env(), secrets_=self._secrets,
                              stdin=dump)
        return None if loaded.ok else _why(f"loading {path.name}", loaded)


def _why(step: str, done: Finished) -> str:
    return f"{step}: the mariadb client exited {done.code}: {reason(done.stderr)}"
