"""``kind: database``: connect and ``SELECT 1`` on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import SECRET, context, make_spec, run
from tests.checks.servers import dead_port
from tests.conftest import PG_ADMIN


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY)")
    return path


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` for its user (trust auth ignores it)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


class TestDatabaseContract(CheckKindContract):
    kind = "database"

    @pytest.fixture
    def passing(self) -> Case:
        return Case({"kind": "database", "url": "${DATABASE_URL}"},
                    context(env={"DATABASE_URL": PG_ADMIN}), "SELECT 1 succeeded")

    @pytest.fixture
    def failing(self) -> Case:
        return Case({"kind": "database", "url": PG_ADMIN, "query": "SELECT * FROM no_such_table"},
                    context(), 'relation "no_such_table" does not exist')

    @pytest.fixture
    def unreachable(self) -> Case:
        url = f"postgresql://postgres@127.0.0.1:{dead_port()}/postgres"
        return Case({"kind": "database", "url": url}, context(), "Connection refused")


def test_sqlite_relative_to_the_spec(sqlite_file: Path) -> None:
    result = run({"kind": "database", "url": "sqlite:///app.db",
                  "query": "SELECT count(*) FROM items"}, context(spec_dir=sqlite_file.parent))
    assert result.ok, result.detail
    assert result.detail == f"sqlite:///{sqlite_file}: SELECT count(*) FROM items succeeded"


def test_a_missing_sqlite_file_fails_and_is_not_created(tmp_path: Path) -> None:
    result = run({"kind": "database", "url": "sqlite:///gone.db"}, context(spec_dir=tmp_path))
    assert not result.ok
    assert "unable to open database file" in result.detail
    assert not (tmp_path / "gone.db").exists()


def test_the_password_is_never_shown() -> None:
    url = with_password(PG_ADMIN, SECRET)
    ok = run({"kind": "database", "url": url}, context())
    assert ok.ok, ok.detail
    assert ok.detail.startswith("postgresql+psycopg://postgres:***@127.0.0.1:5432/postgres")
    refused = with_password(f"postgresql://postgres@127.0.0.1:{dead_port()}/x", SECRET)
    broken = with_password(PG_ADMIN, SECRET)
    for config in ({"kind": "database", "url": refused},
                   {"kind": "database", "url": broken, "query": f"SELECT '{SECRET}' + 1"},
                   {"kind": "database", "url": f"not a url {SECRET}"}):
        result = run(config, context())
        assert not result.ok
        assert SECRET not in result.detail, result.detail


def test_a_database_of_the_spec_at_its_url_in_the_environment(sqlite_file: Path) -> None:
    spec = make_spec(
        databases={"main": {"engine": "sqlite", "url": "sqlite:///elsewhere.db"}},
        environments={"staging": {}, "production": {"databases": {"main": "${MAIN_DB}"}}},
    )
    ctx = context(spec=spec, spec_dir=sqlite_file.parent,
                  environ={"MAIN_DB": f"sqlite:///{sqlite_file}"})
    assert run({"kind": "database", "database": "main"}, ctx).ok
    staging = run({"kind": "database", "database": "main"},
                  context(spec=spec, spec_dir=sqlite_file.parent, environment="staging"))
    assert staging.detail == (f"sqlite:///{sqlite_file.parent / 'elsewhere.db'}: unable to "
                              "open database file")


def test_an_unset_variable_is_named() -> None:
    result = run({"kind": "database", "url": "${NOPE_URL}"}, context())
    assert result.detail == ("url refers to ${NOPE_URL}, which is not set; export NOPE_URL or "
                             "set it in services.<name>.env")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        yield server.getsockname()[1]


def test_a_server_that_never_answers_times_out(silent_port: int) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_port}/postgres"
    result = run({"kind": "database", "url": url, "timeout": "500ms"}, context())
    assert result.detail == f"{url.replace('postgresql', 'postgresql+psycopg')}: no answer " \
        "within 0.5s"
    assert result.duration_ms < 3000


def test_a_driver_rollgate_lacks_is_named() -> None:
    result = run({"kind": "database", "url": "oracle://scott@127.0.0.1/orcl"}, context())
    assert result.detail.startswith("oracle://scott@127.0.0.1/orcl: no driver for oracle here")
