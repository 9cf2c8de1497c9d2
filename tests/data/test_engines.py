"""Backup engines against real databases: round trips, damaged files, failures, secrets.

PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) tests get a fresh database each,
dropped afterwards; they fail, saying what is missing, where the server or its client tools
are not there (`.ci/run` starts the servers and checks the tools).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rollgate.data.engines import (
    BackupEngine,
    CommandEngine,
    MariaDBEngine,
    PostgresEngine,
    SQLiteEngine,
    sha256_file,
)
from rollgate.errors import BackupCorrupt, DataError, UsageError
from tests.data import dbutil
from tests.data.dbutil import change, fingerprint, flip_byte, seed, truncate

SECRET = "s3cret"


def _need(tools: tuple[str, ...], port: int, what: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{what}: {', '.join(missing)} not installed (Debian's PostgreSQL and "
                    "MariaDB client packages)")
    if not dbutil.answers("127.0.0.1", port):
        pytest.fail(f"{what} does not answer on 127.0.0.1:{port}; start it (see .ci/run)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database."""
    _need(("pg_dump", "pg_restore", "psql"), 5432, "PostgreSQL")
    with dbutil.postgres_database() as url:
        yield url


@pytest.fixture
def maria_url() -> Iterator[str]:
    """A fresh MariaDB database."""
    _need(("mariadb-dump", "mariadb"), 3306, "MariaDB")
    with dbutil.mariadb_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in WAL mode, as applications (and rollgate's store) use it."""
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return f"sqlite:///{path}"


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    """Where backups go (a name with a space and a quote, to exercise quoting)."""
    folder = tmp_path / "back ups'"
    folder.mkdir()
    return folder


def _engine(url: str) -> BackupEngine:
    if url.startswith("sqlite"):
        return SQLiteEngine(Path(url.removeprefix("sqlite:///")))
    if url.startswith("postgresql"):
        return PostgresEngine(url)
    return MariaDBEngine(url)


def _round_trip(url: str, backups: Path, change: Callable[[str], None] = change
                ) -> tuple[BackupEngine, Path]:
    """Seed, back up, change everything a bad deploy could, restore; content must match."""
    seed(url)
    before = fingerprint(url)
    engine = _engine(url)
    dest = backups / f"backup_1{engine.suffix}"
    digest = engine.backup(dest)
    assert digest == sha256_file(dest)
    assert f"{len(before)} tables" in engine.check(dest)
    change(url)
    changed = fingerprint(url)
    assert {"audit", "big_orders"} <= changed.keys()
    assert changed["users"] != before["users"]
    engine.restore(dest)
    assert fingerprint(url) == before
    assert dbutil.query(url, "SELECT version_num FROM alembic_version") == [("0001",)]
    assert sorted(p.name for p in backups.iterdir()) == [dest.name]  # no leftovers
    return engine, dest


# --- round trips ------------------------------------------------------------------------


def test_sqlite_round_trip_while_another_process_has_the_database_open(
        sqlite_url: str, backups: Path) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT 1').fetchall(); print('open', flush=True); sys.stdin.read()",
         path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        _, dest = _round_trip(sqlite_url, backups)
    finally:
        holder.communicate("")
    # The backup of a WAL database is one self-contained file.
    assert dest.read_bytes()[18:20] == b"\x01\x01"


def test_postgres_round_trip(pg_url: str, backups: Path) -> None:
    dbutil.execute(pg_url,
                   "CREATE TABLE events (id SERIAL PRIMARY KEY, what TEXT)",
                   "INSERT INTO events (what) VALUES ('a'), ('b')")
    dbutil.execute(pg_url, "CREATE SCHEMA extra")

    def change_more(url: str) -> None:
        change(url)
        dbutil.execute(url, "INSERT INTO events (what) VALUES ('c')",
                       "CREATE TABLE extra.late (id INTEGER)",
                       "CREATE SEQUENCE loose_counter")

    _round_trip(pg_url, backups, change_more)
    assert "extra.late" not in dbutil.relations(pg_url)
    assert dbutil.query(pg_url, "SELECT nextval('events_id_seq')") == [(3,)]
    assert dbutil.query(pg_url, "SELECT count(*) FROM pg_class WHERE relname = "
                                "'loose_counter'") == [(0,)]


def test_postgres_check_reads_the_dump_back_while_writing_it(pg_url: str,
                                                             backups: Path) -> None:
    engine, dest = _backed_up(pg_url, backups)
    summary = "pg_restore: 10 entries, 3 tables; data read in full"  # as many as --list
    assert engine.check(dest) == f"{summary} as it was written"
    # Another engine (as when the catalog verifies a backup later) reads the file in full.
    assert PostgresEngine(pg_url).check(dest) == summary


def test_mariadb_round_trip(maria_url: str, backups: Path) -> None:
    _round_trip(maria_url, backups)


def test_command_round_trip(tmp_path: Path, backups: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("rows: 1, 2, 3\n")
    engine = CommandEngine(
        backup='cp data.txt {file} && printf "%s\\n" "$LABEL" >> {file}',
        restore="head -n 1 {file} > data.txt",
        check='grep -q "^rows:" {file} && echo "first line ok"',
        env={"LABEL": "taken by the test"}, cwd=tmp_path)
    dest = backups / "backup_1.bak"
    assert engine.backup(dest) == sha256_file(dest)
    assert dest.read_text() == "rows: 1, 2, 3\ntaken by the test\n"
    assert engine.check(dest) == "check command ok: first line ok"
    data.write_text("rows: 9\n")
    engine.restore(dest)
    assert data.read_text() == "rows: 1, 2, 3\n"
    assert [p.name for p in backups.iterdir()] == ["backup_1.bak"]


def test_every_engine_is_a_backup_engine(tmp_path: Path) -> None:
    engines: list[BackupEngine] = [
        SQLiteEngine(tmp_path / "a.db"), PostgresEngine("postgresql://u@h/db"),
        MariaDBEngine("mysql://u@h/db"), CommandEngine("true", "true", None, {}, tmp_path)]
    assert all(isinstance(e, BackupEngine) for e in engines)
    assert [(e.kind, e.suffix) for e in engines] == [
        ("sqlite", ".sqlite3"), ("postgres", ".dump"), ("mariadb", ".sql"), ("command", ".bak")]


# --- damaged backups --------------------------------------------------------------------


def _backed_up(url: str, backups: Path) -> tuple[BackupEngine, Path]:
    seed(url)
    engine = _engine(url)
    dest = backups / f"backup_1{engine.suffix}"
    engine.backup(dest)
    return engine, dest


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mariadb"])
def test_truncated_backup_fails_the_check(kind: str, request: pytest.FixtureRequest,
                                          backups: Path) -> None:
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url",
                                   "mariadb": "maria_url"}[kind])
    engine, dest = _backed_up(url, backups)
    truncate(dest, 0.6)
    with pytest.raises(BackupCorrupt, match=r"backup_1\.\w+ is corrupt: .*cannot be restored"):
        engine.check(dest)


def test_sqlite_damaged_header_fails_the_check(sqlite_url: str, backups: Path) -> None:
    engine, dest = _backed_up(sqlite_url, backups)
    flip_byte(dest, 3)
    with pytest.raises(BackupCorrupt, match=r"no SQLite header"):
        engine.check(dest)


def _page_of(dest: Path, table: str) -> tuple[int, int]:
    """(offset of the table's root page, page size) in a SQLite file."""
    conn = sqlite3.connect(f"{dest.as_uri()}?mode=ro", uri=True)
    try:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return (root - 1) * size, size


@pytest.mark.parametrize("where", ["root page type", "leaf page cell pointer"])
def test_sqlite_flipped_byte_in_a_data_page_fails_the_check(
        where: str, sqlite_url: str, backups: Path) -> None:
    engine, dest = _backed_up(sqlite_url, backups)
    root, page = _page_of(dest, "orders")
    # The last page of the file is a leaf of orders (its rows were written last but one);
    # byte 8 of a leaf page starts its cell pointer array.
    offset = root if where == "root page type" else dest.stat().st_size - page + 8
    flip_byte(dest, offset)
    with pytest.raises(BackupCorrupt, match=r"is corrupt: (integrity_check|SQLite cannot)"):
        engine.check(dest)
    with pytest.raises(BackupCorrupt):
        engine.restore(dest)  # refused: the live database is not touched


def test_sqlite_changed_value_is_caught_by_sha256_not_by_the_check(
        sqlite_url: str, backups: Path) -> None:
    """integrity_check sees structure, not values: the catalog's sha256 is what catches this."""
    engine, dest = _backed_up(sqlite_url, backups)
    digest = sha256_file(dest)
    data = dest.read_bytes()
    dest.write_bytes(data.replace(b"u150@example.com", b"u151@example.com", 1))
    assert engine.check(dest).startswith("integrity_check ok")
    assert sha256_file(dest) != digest


def test_postgres_check_reads_the_data_so_a_flipped_byte_fails_it(
        pg_url: str, backups: Path) -> None:
    engine, dest = _backed_up(pg_url, backups)
    assert subprocess.run(["pg_restore", "--list", str(dest)], capture_output=True,
                          check=False).returncode == 0
    flip_byte(dest, dest.stat().st_size - 100)  # inside the last table's compressed data
    # --list alone reads only the table of contents and still passes; the full read fails.
    assert subprocess.run(["pg_restore", "--list", str(dest)], capture_output=True,
                          check=False).returncode == 0
    with pytest.raises(BackupCorrupt, match=r"is corrupt: .*(uncompress|zlib|data)"):
        engine.check(dest)


@pytest.mark.parametrize("damage", ["flipped byte", "truncated"])
def test_postgres_restore_of_a_damaged_dump_changes_nothing(
        damage: str, pg_url: str, backups: Path) -> None:
    engine, dest = _backed_up(pg_url, backups)
    change(pg_url)
    changed = fingerprint(pg_url)
    if damage == "truncated":
        truncate(dest, 0.85)
    else:
        flip_byte(dest, dest.stat().st_size - 100)
    # restore() itself does not run check(): the transaction is what keeps the database.
    with pytest.raises(DataError, match=r"pg_restore exited .*rolled back"):
        engine.restore(dest)
    assert fingerprint(pg_url) == changed


def test_mariadb_restore_of_a_truncated_dump_is_refused(maria_url: str, backups: Path) -> None:
    engine, dest = _backed_up(maria_url, backups)
    change(maria_url)
    changed = fingerprint(maria_url)
    truncate(dest, 0.7)
    with pytest.raises(BackupCorrupt, match=r"Dump completed"):
        engine.restore(dest)
    assert fingerprint(maria_url) == changed


def test_mariadb_restore_that_fails_halfway_puts_the_database_back(
        maria_url: str, backups: Path) -> None:
    engine, dest = _backed_up(maria_url, backups)
    change(maria_url)
    changed = fingerprint(maria_url)
    # Damage the last table's INSERT: the dump still passes its check (complete text), and
    # the tables before it are already replaced when the client stops on the syntax error.
    dest.write_bytes(dest.read_bytes().replace(b"INSERT INTO `users`", b"INSERT INTX `users`"))
    assert "3 tables" in engine.check(dest)
    with pytest.raises(DataError, match=r"syntax.*put back as it was"):
        engine.restore(dest)
    assert fingerprint(maria_url) == changed
    assert sorted(p.name for p in backups.iterdir()) == [dest.name]  # snapshot removed


def test_command_check_failures(tmp_path: Path, backups: Path) -> None:
    empty = backups / "empty.bak"
    empty.touch()
    plain = CommandEngine("true", "true", None, {}, tmp_path)
    with pytest.raises(BackupCorrupt, match=r"empty.bak is corrupt: the file is empty"):
        plain.check(empty)
    with pytest.raises(BackupCorrupt, match=r"does not exist"):
        plain.check(backups / "missing.bak")
    checked = CommandEngine("true", "true", "echo 'bad magic' >&2; exit 2", {}, tmp_path)
    with pytest.raises(BackupCorrupt, match=r"check command exited 2: bad magic"):
        checked.check(empty)


# --- failing backups leave no file ------------------------------------------------------


def _assert_no_file(backups: Path) -> None:
    assert list(backups.iterdir()) == []


def test_postgres_backup_failure_leaves_no_file(backups: Path) -> None:
    _need(("pg_dump",), 5432, "PostgreSQL")
    engine = PostgresEngine("postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(DataError, match=r"backup of postgres postgres@127\.0\.0\.1:1/postgres "
                                         r"failed: pg_dump exited 1: .*reachable"):
        engine.backup(backups / "backup_1.dump")
    _assert_no_file(backups)


def test_mariadb_backup_failure_leaves_no_file(backups: Path) -> None:
    _need(("mariadb-dump",), 3306, "MariaDB")
    engine = MariaDBEngine("mysql://root@127.0.0.1:1/app")
    with pytest.raises(DataError, match=r"mariadb-dump exited 2: .*connect"):
        engine.backup(backups / "backup_1.sql")
    _assert_no_file(backups)


def test_sqlite_backup_of_a_missing_database_fails(tmp_path: Path, backups: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist"):
        SQLiteEngine(tmp_path / "nope.db").backup(backups / "backup_1.sqlite3")
    assert not (tmp_path / "nope.db").exists()
    _assert_no_file(backups)


def test_command_backup_failures_leave_no_file(tmp_path: Path, backups: Path) -> None:
    failing = CommandEngine("echo partial > {file}; echo 'disk on fire' >&2; exit 1", "true",
                            None, {}, tmp_path)
    with pytest.raises(DataError, match=r"exited 1: disk on fire"):
        failing.backup(backups / "backup_1.bak")
    _assert_no_file(backups)
    lazy = CommandEngine("true", "true", None, {}, tmp_path)
    with pytest.raises(DataError, match=r"did not create"):
        lazy.backup(backups / "backup_1.bak")
    _assert_no_file(backups)


def test_command_backup_that_writes_a_directory_fails(tmp_path: Path, backups: Path) -> None:
    engine = CommandEngine("mkdir {file} && touch {file}/base.tar", "true", None, {}, tmp_path)
    with pytest.raises(DataError, match="wrote a directory"):
        engine.backup(backups / "backup_1.bak")
    _assert_no_file(backups)


def test_backup_never_overwrites_a_file(tmp_path: Path, backups: Path) -> None:
    dest = backups / "backup_1.bak"
    dest.write_text("older backup")
    engine = CommandEngine("echo new > {file}", "true", None, {}, tmp_path)
    with pytest.raises(DataError, match=r"already exists"):
        engine.backup(dest)
    assert dest.read_text() == "older backup"


# --- secrets ----------------------------------------------------------------------------


def _message(exc: pytest.ExceptionInfo[DataError]) -> str:
    return f"{exc.value} {exc.value.details or ''}"


def test_postgres_password_is_not_in_errors(backups: Path) -> None:
    _need(("pg_dump", "pg_restore", "psql"), 5432, "PostgreSQL")
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/rg_engines_does_not_exist"
    engine = PostgresEngine(url)
    assert SECRET not in engine.describe()
    with pytest.raises(DataError) as failed:
        engine.backup(backups / "backup_1.dump")
    assert "does not exist" in str(failed.value)
    assert SECRET not in _message(failed)
    dump = backups / "other.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), "-h", "127.0.0.1", "-U", "postgres",
                    "postgres"], check=True)
    with pytest.raises(DataError) as failed:
        engine.restore(dump)
    assert SECRET not in _message(failed)


def test_mariadb_password_is_not_in_errors(backups: Path) -> None:
    _need(("mariadb-dump",), 3306, "MariaDB")
    engine = MariaDBEngine(f"mysql://root:{SECRET}@127.0.0.1:3306/rg_engines_nope")
    assert SECRET not in engine.describe()
    with pytest.raises(DataError) as failed:
        engine.backup(backups / "backup_1.sql")
    assert SECRET not in _message(failed)


@pytest.mark.parametrize(("tool", "url", "variable"), [
    ("pg_dump", f"postgresql+psycopg://app:{SECRET}@db.internal:6432/app", "PGPASSWORD"),
    ("mariadb-dump", f"mysql+pymysql://app:{SECRET}@db.internal/app", "MYSQL_PWD"),
])
def test_password_goes_by_environment_not_command_line(
        tool: str, url: str, variable: str, tmp_path: Path, backups: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for the dump tool records what it was given, then fails like a real one."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / tool
    stand_in.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/argv"\n'
                        f'printf "%s" "${variable}" > "{tmp_path}/password"\n'
                        f'echo "auth failed for password {SECRET}" >&2\nexit 1\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    engine = PostgresEngine(url) if tool == "pg_dump" else MariaDBEngine(url)
    with pytest.raises(DataError) as failed:
        engine.backup(backups / f"backup_1{engine.suffix}")
    argv = (tmp_path / "argv").read_text()
    assert SECRET not in argv
    assert "db.internal" in argv
    assert (tmp_path / "password").read_text() == SECRET
    assert SECRET not in _message(failed)  # masked even when the tool prints it
    assert "auth failed for password ********" in _message(failed)
    _assert_no_file(backups)


def test_command_secrets_are_masked(tmp_path: Path, backups: Path) -> None:
    env = {"DB_PASSWORD": "hunter22",
           "DATABASE_URL": f"postgresql://app:{SECRET}@db/app"}
    engine = CommandEngine('echo "login with $DB_PASSWORD / s3cret failed" >&2; exit 1',
                           "true", None, env, tmp_path)
    with pytest.raises(DataError) as failed:
        engine.backup(backups / "backup_1.bak")
    assert "hunter22" not in _message(failed)
    assert SECRET not in _message(failed)
    assert "login with ******** / ******** failed" in str(failed.value)


# --- urls and descriptions ----------------------------------------------------------------


def test_urls_and_descriptions(tmp_path: Path) -> None:
    assert PostgresEngine("postgresql+psycopg://app:pw@db:6432/shop").describe() == \
        "postgres app@db:6432/shop"
    assert PostgresEngine("postgresql://postgres@127.0.0.1:5432/app").describe() == \
        "postgres postgres@127.0.0.1:5432/app"
    assert MariaDBEngine("mysql+pymysql://app:pw@db/shop").describe() == \
        "mariadb app@db:3306/shop"
    assert MariaDBEngine("mariadb://root@127.0.0.1:3307/x").describe() == \
        "mariadb root@127.0.0.1:3307/x"
    assert SQLiteEngine(tmp_path / "a.db").describe() == f"sqlite {tmp_path / 'a.db'}"
    with pytest.raises(UsageError):
        PostgresEngine("mysql://u@h/db")
    with pytest.raises(UsageError, match=r"names no database"):
        MariaDBEngine("mysql://u@h")
