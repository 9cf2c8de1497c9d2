"""The demo service and the load loop, as real processes over real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from rollgate.demo.app import DATABASE_ENV
from rollgate.demo.faults import FAULTS_ENV, Faults, FaultsFile, faults_for, write_faults
from rollgate.demo.load import LoadLoop
from rollgate.demo.process import DemoProcess, start_demo
from rollgate.errors import TargetError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoProcess]:
    process = start_demo("v1")
    yield process
    process.stop()


@pytest.fixture
def http(demo: DemoProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.url, trust_env=False, timeout=10) as client:
        yield client


def eventually(check: Callable[[], bool], within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_endpoints(http: httpx.Client) -> None:
    assert http.get("/health").json() == {"status": "ok", "version": "v1"}
    assert http.get("/version").json() == {"version": "v1"}
    assert "v1" in http.get("/").json()["message"]
    created = http.post("/api/items", json={"name": "apple"})
    assert created.status_code == 201
    assert created.json()["name"] == "apple"
    assert created.json() in http.get("/api/items").json()["items"]
    assert http.post("/api/items", content=b"not json").status_code == 400
    started = time.monotonic()
    assert http.get("/api/slow", params={"ms": 200}).json()["slept_ms"] == 200
    assert time.monotonic() - started >= 0.2
    assert http.get("/api/slow", params={"ms": "-1"}).status_code == 400


def test_faults_switch_live(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {})
    process = start_demo("v3", faults=faults)
    try:
        with httpx.Client(base_url=process.url, trust_env=False, timeout=10) as http:
            assert http.get("/health").status_code == 200

            write_faults(faults, {"v3": {"health": "fail"}, "v4": {"error_rate": 1.0}})
            assert eventually(lambda: http.get("/health").status_code == 503)
            assert http.get("/health").json() == {"status": "failing"}
            assert http.get("/").status_code == 200  # v4's fault is not ours

            write_faults(faults, {"*": {"error_rate": 1.0}})
            assert eventually(lambda: http.get("/").status_code == 500)
            assert http.get("/").json()["error"] == "injected fault"
            assert http.get("/health").status_code == 200  # /health is exempt

            write_faults(faults, {"*": {"latency_ms": 150}, "v3": {"error_rate": 0}})
            assert eventually(lambda: http.get("/").elapsed.total_seconds() >= 0.15)
            assert http.get("/").status_code == 200

            faults.unlink()
            assert eventually(lambda: http.get("/").elapsed.total_seconds() < 0.1)
    finally:
        assert process.stop() == 0


def test_error_rate_is_roughly_the_share_of_errors(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"v5": {"error_rate": 0.2}})
    process = start_demo("v5", faults=faults)
    try:
        with httpx.Client(base_url=process.url, trust_env=False) as http:
            errors = sum(http.get("/version").status_code == 500 for _ in range(500))
    finally:
        process.stop()
    assert 60 < errors < 140  # Binomial(500, 0.2): mean 100, sd ~9


def test_crash_at_start_exits_3_with_a_message(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"v6": {"crash_at_start": True}})
    result = subprocess.run(
        [sys.executable, "-m", "rollgate.demo", "serve", "--port", "0", "--version", "v6"],
        env={**os.environ, FAULTS_ENV: str(faults)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "crash_at_start" in result.stderr
    with pytest.raises(TargetError, match="did not start"):
        start_demo("v6", faults=faults)


def test_start_delay_postpones_listening(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"*": {"start_delay": 0.8}})
    started = time.monotonic()
    process = start_demo("v7", faults=faults)
    try:
        assert time.monotonic() - started >= 0.8
    finally:
        process.stop()


def test_sigterm_finishes_in_flight_requests() -> None:
    process = start_demo("v8")
    answers: dict[str, httpx.Response] = {}
    url = f"{process.url}/api/slow?ms=700"
    thread = threading.Thread(target=lambda: answers.update(r=httpx.get(url, trust_env=False)))
    thread.start()
    time.sleep(0.3)
    assert process.stop() == 0
    thread.join()
    assert answers["r"].status_code == 200


def test_bad_faults_are_refused() -> None:
    assert faults_for({"*": {"latency_ms": 5}, "v1": {"latency_ms": 9}}, "v1").latency_ms == 9
    assert faults_for({}, "v1") == Faults()
    for bad in ({"v1": {"error_rate": 2}}, {"v1": {"health": "meh"}}, {"*": {"nope": 1}}):
        with pytest.raises(ValueError):
            faults_for(bad, "v1")


def test_a_broken_faults_file_keeps_the_previous_faults(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    clock = [0.0]
    source = FaultsFile(path, "v1", clock=lambda: clock[0])
    write_faults(path, {"v1": {"health": "fail"}})
    assert source.current().health == "fail"
    path.write_text("{ not json")
    clock[0] += 0.2
    assert source.current().health == "fail"  # not re-checked within 0.5 s
    clock[0] += 0.5
    assert source.current().health == "fail"  # re-read, ignored as broken


def test_load_loop_stops_at_max_requests(http: httpx.Client, demo: DemoProcess) -> None:
    load = LoadLoop(f"{demo.url}/version", concurrency=3, max_requests=120).start()
    summary = load.wait(timeout=20)
    assert not load.running
    assert summary.total == 120
    assert summary.by_status == {200: 120}
    assert summary.by_version == {"": 120}  # no proxy in front, so no version header
    assert summary.errors == 0


def test_load_loop_stops_by_itself_and_paces_to_a_rate(demo: DemoProcess) -> None:
    started = time.monotonic()
    with LoadLoop(f"{demo.url}/", rate=50, max_seconds=1.0) as load:
        load.wait(timeout=10)
    assert time.monotonic() - started < 3
    assert 40 <= load.summary().total <= 51


def test_load_loop_records_connection_errors_as_status_0() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    summary = LoadLoop(f"http://127.0.0.1:{port}/", max_requests=5).start().wait(timeout=10)
    assert summary.by_status == {0: 5}
    assert summary.errors == 5


# -- items in SQLite (DEMO_DATABASE) -----------------------------------------------------------

ITEMS_TABLE = (
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT, created_at TEXT)"
)


def sqlite_file(path: Path, *statements: str) -> Path:
    """Create a SQLite file and run ``statements`` in it, as migrations would."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()
    return path


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    """Read a SQLite file directly, behind the app's back."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


@contextlib.contextmanager
def demo_on(database: Path, version: str = "v1") -> Iterator[tuple[DemoProcess, httpx.Client]]:
    """A demo process whose items are in ``database``, and a client for it."""
    process = start_demo(version)
    try:
        with httpx.Client(base_url=process.url, trust_env=False, timeout=10) as http:
            yield process, http
    finally:
        assert process.stop() == 0


@pytest.fixture
def database_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point ``DEMO_DATABASE`` (inherited by demo processes) at a file under tmp_path."""
    path = tmp_path / "demo.db"
    monkeypatch.setenv(DATABASE_ENV, str(path))
    return path


def test_items_persist_in_sqlite_across_a_restart(database_env: Path) -> None:
    sqlite_file(database_env, ITEMS_TABLE)
    with demo_on(database_env, "v1") as (_, http):
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "version": "v1", "database": "ok"}
        assert http.get("/api/items").json() == {"items": []}
        apple = http.post("/api/items", json={"name": "apple"})
        pear = http.post("/api/items", json={"name": "pear"})
        assert apple.status_code == pear.status_code == 201
        assert {k: apple.json()[k] for k in ("id", "name", "version")} == {
            "id": 1, "name": "apple", "version": "v1",
        }  # fmt: skip
        assert datetime.fromisoformat(apple.json()["created_at"]).tzinfo is not None
        # No transaction is left open: another process can take the write lock at once.
        with contextlib.closing(sqlite3.connect(database_env, timeout=0)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
    with demo_on(database_env, "v2") as (_, http):
        assert http.get("/api/items").json() == {"items": [apple.json(), pear.json()]}
        plum = http.post("/api/items", json={"name": "plum"}).json()
        assert (plum["id"], plum["version"]) == (3, "v2")
    assert rows(database_env, "SELECT id, name, version FROM items ORDER BY id") == [
        (1, "apple", "v1"), (2, "pear", "v1"), (3, "plum", "v2"),
    ]  # fmt: skip


def test_a_database_without_the_items_table_answers_503_and_is_not_touched(
    database_env: Path,
) -> None:
    sqlite_file(database_env, "CREATE TABLE other (x INTEGER)")
    with demo_on(database_env) as (_, http):
        for response in (http.get("/api/items"), http.post("/api/items", json={"name": "a"})):
            assert response.status_code == 503
            assert response.json()["error"] == "database not migrated: no table items"
            assert "migrations" in response.json()["detail"]
        assert http.get("/health").json()["database"] == "ok"  # reachable, just not migrated
        assert rows(database_env, "SELECT name FROM sqlite_master") == [("other",)]

        sqlite_file(database_env, ITEMS_TABLE)  # the migrations run while the app runs
        assert http.post("/api/items", json={"name": "a"}).status_code == 201
        assert [item["name"] for item in http.get("/api/items").json()["items"]] == ["a"]


def test_a_database_that_cannot_be_opened_fails_health_and_is_not_created(
    database_env: Path,
) -> None:
    with demo_on(database_env) as (process, http):
        health = http.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body.pop("detail")
        assert body == {"status": "failing", "version": "v1", "database": "unreachable"}
        items = http.get("/api/items")
        assert items.status_code == 503
        assert items.json()["error"].startswith("database unavailable")
        assert not database_env.exists()  # never created by the app

        database_env.write_bytes(b"this is not a SQLite file" * 100)
        assert http.get("/health").json()["database"] == "unreachable"
        assert http.post("/api/items", json={"name": "a"}).status_code == 503

        database_env.unlink()
        sqlite_file(database_env, ITEMS_TABLE)
        assert http.get("/health").json()["database"] == "ok"
        assert process.process.poll() is None


def test_a_restore_through_the_backup_api_under_load_costs_no_errors(
    database_env: Path, tmp_path: Path
) -> None:
    sqlite_file(database_env, ITEMS_TABLE)
    names = [f"restored-{i}" for i in range(300)]
    backup = sqlite_file(
        tmp_path / "backup.db",
        ITEMS_TABLE,
        *(f"INSERT INTO items (name, version) VALUES ('{name}', 'v0')" for name in names),
    )
    with demo_on(database_env) as (process, http):
        assert http.post("/api/items", json={"name": "lost in the restore"}).status_code == 201
        with LoadLoop(f"{process.url}/api/items", concurrency=4, max_seconds=15) as load:
            time.sleep(0.3)
            for _ in range(5):
                with (
                    contextlib.closing(sqlite3.connect(backup)) as source,
                    contextlib.closing(sqlite3.connect(database_env, timeout=10)) as target,
                ):
                    source.backup(target)
                time.sleep(0.1)
            time.sleep(0.3)
        summary = load.summary()
        assert summary.total > 20
        assert summary.by_status == {200: summary.total}
        restored = http.get("/api/items").json()["items"]
        assert [item["name"] for item in restored] == names
        assert http.get("/health").json()["database"] == "ok"
