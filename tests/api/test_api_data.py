"""Backups and db rollbacks through the REST API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rollgate.demo.schema import install_migrations
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer


@pytest.fixture
def data_api(sandbox: Sandbox) -> Iterator[ApiServer]:
    """A server over a project whose service has a SQLite database with migrations."""
    (sandbox.root / "data").mkdir()
    env = {"ROLLGATE_DEMO_FAULTS": str(sandbox.faults_path),
           "DEMO_DATABASE": str(sandbox.root / "data" / "app.db")}
    sandbox.write_spec({
        "project": "t",
        "services": {"web": demo_service(free_port(), sandbox.faults_path, env=env,
                                         database="main")},
        "environments": {"production": {"strategy": {"kind": "blue-green"}}},
        "databases": {"main": {"engine": "sqlite", "url": "sqlite:///data/app.db",
                               "migrations": {"kind": "alembic",
                                              "config": "migrations/alembic.ini"}}},
    })
    install_migrations(sandbox.root, ["0001"])
    server = ApiServer(sandbox)
    try:
        server.start()
        yield server
    finally:
        server.finish_active_runs()
        server.stop()


def test_backups_and_a_db_rollback_through_the_api(data_api: ApiServer) -> None:
    first = data_api.deployed("v1")
    backups = data_api.http.get("/api/backups").json()["items"]
    assert len(backups) == 1
    point = backups[0]
    assert (point["run_id"], point["rollback_point"], point["engine"]) == (
        first["id"], True, "sqlite")
    assert data_api.http.get(f"/api/backups/{point['id']}").json()["sha256"] == point["sha256"]
    assert data_api.http.get("/api/backups/backup_nope").status_code == 404

    resp = data_api.http.post("/api/rollbacks", json={
        "service": "web", "environment": "production", "scope": "db",
        "latest_backup": True, "reason": "bad import"})
    assert resp.status_code == 202, resp.text
    run = data_api.wait(resp.json()["id"])
    assert run["status"] == "succeeded", run
    assert run["params"]["backup_id"] == point["id"]
    names = [s["name"] for s in run["steps"]]
    assert names[1:4] == [f"verify {point['id']}", "maintenance on",
                          f"restore main from {point['id']}"]
    records = data_api.http.get("/api/rollbacks").json()["items"]
    assert (records[0]["scope"], records[0]["trigger"], records[0]["reason"]) == (
        "db", "manual", "bad import")

    refused = data_api.http.post("/api/rollbacks", json={
        "service": "web", "environment": "production", "scope": "db", "reason": "x"})
    assert refused.status_code == 400
    assert "a db-only rollback needs" in refused.json()["error"]["message"]
