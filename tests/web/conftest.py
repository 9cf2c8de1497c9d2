"""The dashboard in-process (no engine): an app over a sandbox project's store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rollgate.api.app import create_app
from rollgate.auth import service as accounts
from rollgate.engine.runtime import Runtime
from rollgate.runs.service import Project
from rollgate.settings import Settings
from rollgate.spec.loader import load_spec
from rollgate.store import checks as check_store
from rollgate.store import runs as run_store
from rollgate.store.db import Database
from rollgate.store.tables import RunLock
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service


@dataclass
class Web:
    """A test client of the dashboard and the runtime under it."""

    client: TestClient
    rt: Runtime
    box: Sandbox

    def add_run(self, **fields: Any) -> str:
        """A run row (with steps and analysis checks) written straight to the store."""
        return fake_run(self.rt.db, **fields)

    def csrf(self) -> str:
        """The visitor's CSRF token (open mode: the double-submit cookie)."""
        self.client.get("/runs")
        return str(self.client.cookies.get("rollgate_csrf"))


def fake_run(db: Database, *, status: str = "running", strategy: str = "canary",
             steps: list[dict[str, Any]] | None = None,
             checks: list[dict[str, Any]] | None = None, **fields: Any) -> str:
    """A run of web (with steps and analysis checks) written straight to a store."""
    env = fields.get("environment", "production")
    with db.session() as s:
        run = run_store.create_run(
            session=s, kind=fields.get("kind", "deploy"), service=fields.get("service", "web"),
            environment=env, version=fields.get("version", "v2"), from_version="v1",
            strategy=strategy, actor=fields.get("actor", "tester"), reason=fields.get("reason"),
            spec={},
            spec_dir=".")
        run.status = status
        run.started_at = run.created_at
        if status in run_store.TERMINAL:
            run.finished_at = run.created_at + timedelta(seconds=5)
            s.flush()
            s.delete(s.get(RunLock, (run.service, env)))
        run_id = run.id
    for seq, step in enumerate(steps or [], start=1):
        with db.session() as s:
            run_store.step_started(session=s, run_id=run_id, seq=seq, name=step["name"])
        if step.get("state", "succeeded") != "running":
            with db.session() as s:
                run_store.step_finished(session=s, run_id=run_id, seq=seq,
                                        state=step.get("state", "succeeded"),
                                        output=step.get("output"), error=step.get("error"))
    for check in checks or []:
        with db.session() as s:
            check_store.record(session=s, run_id=run_id, seq=check.pop("seq", 1),
                               analysis=check.pop("analysis", "golden"), checks=[check])
    return run_id


def write_spec(box: Sandbox) -> None:
    """Two environments, one service."""
    box.write_spec({
        "project": "shop",
        "services": {"web": demo_service(free_port(), box.faults_path)},
        "environments": {
            "staging": {"strategy": {"kind": "rolling"}},
            "production": {"strategy": {"kind": "canary", "steps": [{"weight": 50}]}},
        },
    })


@pytest.fixture
def web(sandbox: Sandbox) -> Iterator[Web]:
    """The app over a fresh project store, in this process."""
    write_spec(sandbox)
    settings = Settings(spec=sandbox.spec_path, state_dir=sandbox.state_dir,
                        database_url=sandbox.database_url)
    rt = Runtime(settings, kind="test")

    def project() -> Project:
        return Project(spec=load_spec(sandbox.spec_path), spec_dir=sandbox.root)

    try:
        with TestClient(create_app(rt, project), follow_redirects=False) as client:
            yield Web(client, rt, sandbox)
    finally:
        rt.close()


PASSWORD = "correct horse battery"


@pytest.fixture
def users(web: Web) -> Web:
    """admin (everywhere), dev (deployer on staging, viewer on production), viewer, lead
    (approver on production) and nobody-prod (viewer on staging only)."""
    db = web.rt.db
    accounts.add_user(db, name="admin", password=PASSWORD, role="admin", environment="*",
                      actor="test")
    accounts.add_user(db, name="dev", password=PASSWORD, role="deployer",
                      environment="staging", actor="test")
    accounts.grant(db, name="dev", role="viewer", environment="production", actor="test")
    accounts.add_user(db, name="viewer", password=PASSWORD, role="viewer", environment="*",
                      actor="test")
    accounts.add_user(db, name="lead", password=PASSWORD, role="approver",
                      environment="production", actor="test")
    accounts.add_user(db, name="nobody-prod", password=PASSWORD, role="viewer",
                      environment="staging", actor="test")
    return web


def login(web: Web, name: str, password: str = PASSWORD, next_url: str = "/") -> str:
    """Log in through the form; return the session's CSRF token (from a page)."""
    form = web.client.get("/login", params={"next": next_url}).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, form
    resp = web.client.post("/login", data={"username": name, "password": password,
                                           "next": next_url, "csrf_token": token[1]})
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == next_url
    page = web.client.get("/runs").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found[1]
