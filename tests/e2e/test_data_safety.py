"""Data safety end to end: backup before migrating, automatic restore of a failed migration on
SQLite, PostgreSQL and MariaDB, corrupt backups refused, full rollback behind maintenance,
the non-destructive check, retention, db status and rollback records."""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollgate.demo.schema import install_migrations
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.data.dbutil import (
    execute,
    fingerprint,
    flip_byte,
    mariadb_database,
    postgres_database,
    query,
    truncate,
)
from tests.e2e.helpers import deploy


def _database(engine: str, box: Sandbox) -> AbstractContextManager[str]:
    if engine == "postgres":
        return postgres_database()
    if engine == "mariadb":
        return mariadb_database()
    (box.root / "data").mkdir(exist_ok=True)
    return nullcontext(f"sqlite:///{box.root / 'data' / 'app.db'}")


def _setup(box: Sandbox, url: str, *, strategy: dict[str, Any] | None = None,
           database: dict[str, Any] | None = None, spec_url: str | None = None) -> int:
    """One demo service using database `main` at ``url`` (the app stores items there too when
    it is SQLite); Alembic migrations from the demo; returns the public port."""
    port = free_port()
    env = {"ROLLGATE_DEMO_FAULTS": str(box.faults_path)}
    if url.startswith("sqlite"):
        env["DEMO_DATABASE"] = url.removeprefix("sqlite:///")
    engine = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mariadb"}[
        url.split(":", 1)[0]]
    box.write_spec({
        "project": "shop",
        "services": {"web": demo_service(port, box.faults_path, env=env, database="main")},
        "environments": {"production": {"strategy": strategy or {"kind": "blue-green"}}},
        "databases": {"main": {
            "engine": engine, "url": spec_url or url,
            "migrations": {"kind": "alembic", "config": "migrations/alembic.ini"},
            **(database or {}),
        }},
    })
    return port


def _items(url: str, names: list[str]) -> None:
    values = ", ".join(f"('{n}', 'v1', '2026-01-01')" for n in names)
    execute(url, f"INSERT INTO items (name, version, created_at) VALUES {values}")


def _records(box: Sandbox) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((box.state_dir / "logs")
                                                      .glob("rollback_*.json"))]


PASSWORD = "pw-s3cret-4711"


@pytest.mark.parametrize("engine", ["sqlite", "postgres", "mariadb"])
def test_a_migration_failing_halfway_is_restored_from_the_backup(
        sandbox: Sandbox, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with _database(engine, sandbox) as url:
        spec_url = None
        if engine == "postgres":
            # The URL carries a password (trust auth ignores it): it must never be shown.
            secret_url = url.replace("postgres@", f"postgres:{PASSWORD}@")
            monkeypatch.setenv("APP_DATABASE_URL", secret_url)
            spec_url = "${APP_DATABASE_URL}"
        _setup(sandbox, url, spec_url=spec_url)
        install_migrations(sandbox.root, ["0001"])
        first = deploy(sandbox, "v1")
        assert first.returncode == 0, first.stdout + first.stderr
        _items(url, [f"item {i}" for i in range(40)])
        before = fingerprint(url)
        assert before["items"][0] == 40

        # v2 brings two migrations: 0002 applies and commits, 0003 rewrites rows and fails.
        install_migrations(sandbox.root, ["0001", "0002", "0003"])
        bad = deploy(sandbox, "v2")
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "no_such_column" in bad.stdout + bad.stderr

        assert fingerprint(url) == before  # same tables, row counts and content as before
        assert query(url, "SELECT version_num FROM alembic_version") == [("0001",)]
        run = sandbox.json("history")[0]
        assert run["status"] == "failed"
        assert "database restored from backup_" in run["error"]
        steps = {s["name"]: s["state"] for s in sandbox.json("runs", "show", run["id"])["steps"]}
        assert steps["migrate main"] == "failed"
        assert steps["maintenance off"] == "succeeded"
        assert [s for s, state in steps.items() if s.startswith("restore main from backup_")
                and state == "succeeded"]
        assert sandbox.json("status")[0]["live"] == "v1"
        record = _records(sandbox)[-1]
        assert (record["scope"], record["trigger"]) == ("db", "auto")
        assert record["backup"]["schema_revision"] == "0001"
        shown = [bad.stdout, bad.stderr, json.dumps(sandbox.json("runs", "show", run["id"])),
                 json.dumps(record), json.dumps(sandbox.json("backup", "list")),
                 *(p.read_text() for p in sandbox.state_dir.rglob("*.meta.json"))]
        assert not [text for text in shown if PASSWORD in text]


def test_a_corrupted_or_truncated_backup_is_refused_and_nothing_is_touched(
        sandbox: Sandbox) -> None:
    with _database("sqlite", sandbox) as url:
        _setup(sandbox, url)
        install_migrations(sandbox.root, ["0001"])
        assert deploy(sandbox, "v1").returncode == 0
        _items(url, ["a", "b", "c"])
        made = sandbox.json("backup", "create", "--env", "production", "--reason", "nightly")
        assert made["id"].startswith("backup_") and made["size"] > 0
        meta = json.loads(Path(made["location"]).with_name(f"{made['id']}.meta.json")
                          .read_text())
        assert (meta["sha256"], meta["schema_revision"], meta["reason"]) == (
            made["sha256"], "0001", "nightly")
        assert sandbox.run("backup", "verify", made["id"]).returncode == 0

        _items(url, ["d"])
        before = fingerprint(url)
        flip_byte(Path(made["location"]), made["size"] // 2)
        verify = sandbox.run("backup", "verify", made["id"])
        assert verify.returncode == 3
        assert "is corrupt" in verify.stderr and "sha256" in verify.stderr
        restore = sandbox.run("backup", "restore", made["id"], "--yes", "--reason", "x")
        assert restore.returncode == 3, restore.stdout + restore.stderr
        rollback = sandbox.run("rollback", "web", "--env", "production", "--db-only",
                               "--backup-id", made["id"], "--reason", "x", "--yes")
        assert rollback.returncode == 3
        assert fingerprint(url) == before
        assert all(r["kind"] == "deploy" for r in sandbox.json("history"))  # no run started

        flip_byte(Path(made["location"]), made["size"] // 2)  # undo the flip, then cut the file
        truncate(Path(made["location"]), 0.5)
        cut = sandbox.run("backup", "verify", made["id"])
        assert cut.returncode == 3 and "truncated" in cut.stderr


class _Loop:
    """GET /api/items on the public port as fast as it answers; remembers every answer."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/api/items"
        self.answers: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    r = client.get(self.url)
                    error = r.json().get("error", "") if r.status_code != 200 else ""
                    self.answers.append((r.status_code, error))
                except httpx.HTTPError as exc:
                    self.answers.append((0, type(exc).__name__))

    def __enter__(self) -> _Loop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_full_rollback_restores_app_and_data_behind_maintenance(sandbox: Sandbox) -> None:
    with _database("sqlite", sandbox) as url:
        # recreate: v1 is not kept warm, so the full rollback starts it behind maintenance.
        port = _setup(sandbox, url, strategy={"kind": "recreate"},
                      database={"maintenance_message": "Back at 10:00 GMT"})
        public = f"http://127.0.0.1:{port}"
        install_migrations(sandbox.root, ["0001"])
        assert deploy(sandbox, "v1").returncode == 0
        for name in ("one", "two"):
            assert httpx.post(f"{public}/api/items", json={"name": name}).status_code == 201
        kept = httpx.get(f"{public}/api/items").json()["items"]

        install_migrations(sandbox.root, ["0001", "0002"])
        assert deploy(sandbox, "v2").returncode == 0
        assert httpx.post(f"{public}/api/items", json={"name": "lost"}).status_code == 201
        point = sandbox.json("history")[0]["id"]

        with _Loop(port) as loop:
            proc = sandbox.run("rollback", "web", "--env", "production", "--full",
                               "--reason", "v2 corrupts notes", "--yes")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "will be lost" in proc.stderr

        assert httpx.get(f"{public}/version").json()["version"] == "v1"
        assert httpx.get(f"{public}/api/items").json()["items"] == kept
        assert query(url, "SELECT version_num FROM alembic_version") == [("0001",)]
        codes = {code for code, _ in loop.answers}
        assert codes <= {200, 503}, sorted(set(loop.answers))
        assert (503, "maintenance") in loop.answers  # users saw maintenance during the restore
        assert all(error == "maintenance" for code, error in loop.answers if code == 503)

        record = _records(sandbox)[-1]
        assert (record["scope"], record["trigger"]) == ("full", "manual")
        assert (record["from_version"], record["to_version"]) == ("v2", "v1")
        assert record["run"]["reason"] == "v2 corrupts notes"
        backups = {b["id"]: b for b in sandbox.json("backup", "list")}
        assert backups[record["backup"]["id"]]["run_id"] == point


def test_a_destructive_migration_needs_allow_destructive(sandbox: Sandbox) -> None:
    with _database("sqlite", sandbox) as url:
        _setup(sandbox, url)
        install_migrations(sandbox.root, ["0001", "0002"])
        assert deploy(sandbox, "v1").returncode == 0
        backups = len(sandbox.json("backup", "list"))

        install_migrations(sandbox.root, ["0001", "0002", "0004"])
        refused = deploy(sandbox, "v2")
        assert refused.returncode == 1
        out = refused.stdout + refused.stderr
        assert "drops column items.version" in out and "--allow-destructive" in out
        assert query(url, "SELECT version_num FROM alembic_version") == [("0002",)]
        assert len(sandbox.json("backup", "list")) == backups  # refused before any backup
        assert sandbox.json("status")[0]["live"] == "v1"

        allowed = deploy(sandbox, "v2", "--allow-destructive")
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert query(url, "SELECT version_num FROM alembic_version") == [("0004",)]


def test_db_status_retention_and_prune(sandbox: Sandbox) -> None:
    with _database("sqlite", sandbox) as url:
        _setup(sandbox, url, database={"retention": {"keep_last": 2}})
        install_migrations(sandbox.root, ["0001"])
        assert deploy(sandbox, "v1").returncode == 0
        install_migrations(sandbox.root, ["0001", "0002"])
        status = sandbox.json("db", "status", "--env", "production")
        assert status["migrations"]["current"] == "0001"
        assert [p.split(":")[0] for p in status["migrations"]["pending"]] == ["0002"]
        point = status["last_backup"]["id"]  # taken by the deploy of v1: its rollback point

        made = [sandbox.json("backup", "create", "--env", "production", *extra)["id"]
                for extra in (["--keep"], [], [], [])]
        status = sandbox.json("db", "status", "--env", "production")
        assert status["last_backup"]["id"] == made[-1] and status["backups"] == 5

        dry = sandbox.json("backup", "prune", "--env", "production", "--dry-run")
        assert [d["id"] for d in dry if d["prune"]] == [made[1]]
        pruned = sandbox.json("backup", "prune", "--env", "production")
        assert [d["id"] for d in pruned if d["pruned"]] == [made[1]]
        listing = {b["id"]: b for b in sandbox.json("backup", "list")}
        assert listing[made[1]]["retention"] == "obsolete"
        assert not Path(listing[made[1]]["location"]).exists()
        assert listing[made[0]]["retention"] == "keep"
        assert listing[point]["rollback_point"] is True
        assert all(Path(listing[b]["location"]).exists() for b in (point, *made[2:]))
        gone = sandbox.run("backup", "verify", made[1])
        assert gone.returncode == 3 and "pruned" in gone.stderr


def test_command_migrations_downgrade_on_failure(sandbox: Sandbox) -> None:
    data = sandbox.root / "data.txt"
    data.write_text("rows: 3\n")
    port = free_port()
    sandbox.write_spec({
        "project": "shop",
        "services": {"web": demo_service(port, sandbox.faults_path, database="main")},
        "environments": {"production": {"strategy": {"kind": "recreate"}}},
        "databases": {"main": {
            "engine": "command",
            "backup": "cp data.txt {file}", "restore": "cp {file} data.txt",
            "migrations": {
                "kind": "command",
                "run": "echo 'schema: 2' >> data.txt && echo 'step 2 failed' >&2 && exit 4",
                "downgrade": "sed -i '/schema: 2/d' data.txt && echo downgraded",
                "on_failure": "downgrade",
            },
        }},
    })
    proc = deploy(sandbox, "v1")
    assert proc.returncode == 1
    run = sandbox.json("history")[0]
    assert "step 2 failed" in run["error"] and "downgraded" in run["error"]
    assert data.read_text() == "rows: 3\n"
    steps = [s["name"] for s in sandbox.json("runs", "show", run["id"])["steps"]]
    assert "downgrade main to base" in steps
    assert "start v1 (replica 0)" not in steps  # the app never started


def test_rollback_refusals_say_what_to_do(sandbox: Sandbox) -> None:
    with _database("sqlite", sandbox) as url:
        _setup(sandbox, url)
        install_migrations(sandbox.root, ["0001"])
        assert deploy(sandbox, "v1").returncode == 0

        def rollback(*args: str) -> Any:
            return sandbox.run("rollback", "web", "--env", "production", "--reason", "x",
                               "--yes", *args)

        no_backup = rollback("--db-only")
        assert no_backup.returncode == 2 and "--backup-id" in no_backup.stderr
        both = rollback("--db-only", "--full")
        assert both.returncode == 2 and "exclude each other" in both.stderr
        unknown = rollback("--db-only", "--backup-id", "backup_19990101_000000")
        assert unknown.returncode == 2 and "no backup" in unknown.stderr
        app_with_backup = rollback("--backup-id", "x")
        assert app_with_backup.returncode == 2 and "--db-only or --full" in app_with_backup.stderr



def test_maintenance_on_and_off_by_hand(sandbox: Sandbox) -> None:
    with _database("sqlite", sandbox) as url:
        port = _setup(sandbox, url)
        install_migrations(sandbox.root, ["0001"])
        assert deploy(sandbox, "v1").returncode == 0
        public = f"http://127.0.0.1:{port}/api/items"
        on = sandbox.run("maintenance", "on", "web", "--env", "production", "--message",
                         "Scheduled maintenance until 10:00 AM GMT")
        assert on.returncode == 0, on.stderr
        answer = httpx.get(public)
        assert answer.status_code == 503
        assert answer.json() == {"error": "maintenance",
                                 "message": "Scheduled maintenance until 10:00 AM GMT"}
        assert answer.headers["Retry-After"]
        assert sandbox.json("status")[0]["maintenance"]["message"].startswith("Scheduled")
        assert sandbox.run("maintenance", "off", "web", "--env", "production").returncode == 0
        assert httpx.get(public).status_code == 200
        again = sandbox.run("maintenance", "off", "web", "--env", "production")
        assert again.returncode == 3 and "not in maintenance" in again.stderr
        events = [e["action"] for e in _audit(sandbox)]
        assert events[-2:] == ["maintenance.on", "maintenance.off"]


def _audit(box: Sandbox) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from rollgate.store.tables import AuditEvent

    with box.store().session() as s:
        return [{"action": e.action, "actor": e.actor}
                for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
