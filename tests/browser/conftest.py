"""A real ``rollgate serve`` over a two-environment project, and headless Chromium.

One server serves the whole module (starting it and deploying the first versions is most
of the cost); each test works on its own environment or leaves the others as it found them.
Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright: no browser download.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from rollgate.auth import service as accounts
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer
from tests.conftest import store_database

CHROMIUM = Path(os.environ.get("ROLLGATE_TEST_CHROMIUM", "/usr/bin/chromium"))

# A canary that runs in seconds: two short pauses judged live against stable.
GOLDEN = ("analyses:\n  golden:\n    interval: 1s\n    judge:\n      metrics:\n"
          "      - {metric: error_rate, critical: true}\n"
          "      - {metric: latency, effect_floor: 0.1}\n      alpha: 0.01\n")


def write_spec(box: Sandbox) -> dict[str, int]:
    """web in production (canary with analysis), in staging (blue-green) and in review (a
    canary that waits for an approval); the ports."""
    ports = {"production": free_port(), "staging": free_port(), "review": free_port()}
    box.write_spec({
        "project": "shop",
        "services": {"web": demo_service(ports["production"], box.faults_path)},
        "environments": {
            "production": {"strategy": {"kind": "canary", "analysis": "golden", "steps": [
                {"weight": 20}, {"pause": "4s"}, {"weight": 50}, {"pause": "4s"}]}},
            "staging": {"strategy": {"kind": "blue-green", "keep_warm": "0s"},
                        "ports": {"web": ports["staging"]}},
            "review": {"strategy": {"kind": "canary", "steps": [
                {"weight": 50}, {"pause": "approval"}]}, "ports": {"web": ports["review"]}},
        },
    })
    box.spec_path.write_text(box.spec_path.read_text() + GOLDEN)
    return ports


PASSWORD = "correct horse battery"
USERS = {"admin": ("admin", "*"), "viewer": ("viewer", "*")}


class Dashboard(ApiServer):
    """The server, with the public ports of its environments."""

    ports: dict[str, int]

    def add_users(self) -> None:
        """The users of the tests (the server leaves open mode); the API client is admin."""
        db = self.box.store()
        for name, (role, env) in USERS.items():
            accounts.add_user(db, name=name, password=PASSWORD, role=role, environment=env,
                              actor="test")
        token = accounts.create_token(db, user="admin", name="tests", expires_in_days=1,
                                      actor="test")
        self.http.headers["Authorization"] = f"Bearer {token.token}"

    def deploy_to(self, environment: str, version: str, **headers: str) -> dict[str, Any]:
        """Deploy web through the API and wait for the run to succeed."""
        resp = self.http.post("/api/deploys", headers=headers, json={
            "service": "web", "environment": environment, "version": version})
        assert resp.status_code == 202, resp.text
        run = self.wait(resp.json()["id"])
        assert run["status"] == "succeeded", run
        return run


@pytest.fixture(scope="module")
def module_database_url() -> Iterator[str | None]:
    """The module's store: SQLite, or a PostgreSQL database of its own."""
    with store_database("rg_browser") as url:
        yield url


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
              ) -> Iterator[Dashboard]:
    """``rollgate serve`` on a free port; afterwards runs ended, server stopped, all down."""
    box = Sandbox(tmp_path_factory.mktemp("browser") / "project",
                  database_url=module_database_url)
    ports = write_spec(box)
    server = Dashboard(box)
    server.ports = ports
    try:
        server.start()
        server.add_users()
        yield server
    finally:
        try:
            server.close()
        finally:
            box.down()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser, dashboard: Dashboard) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) pointed at the server."""
    ctx = browser.new_context(base_url=dashboard.url)
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab; the JavaScript errors and CSP violations it meets are in ``page.errors``."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text)
           if msg.type == "error" and "Content Security Policy" in msg.text else None)
    tab.errors = errors  # type: ignore[attr-defined]
    return tab


def login(page: Page, name: str, password: str = PASSWORD, path: str = "/") -> None:
    """Log in through the form, coming back to ``path``."""
    page.goto(path)
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}")
