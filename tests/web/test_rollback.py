"""The rollback form's scopes: app only, database only, or both (full), with a backup.

The data tests drive a real ``rollgate serve`` over a service with a SQLite database, one
server for the module: v1 then v2 deployed (each deploy backs the database up first), one
item written after v2 that a data rollback loses. The first data test only reviews; the
second rolls back, so it comes last.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from rollgate.demo.schema import install_migrations
from rollgate.testing import Sandbox
from tests.api.conftest import ApiServer
from tests.conftest import store_database
from tests.e2e.test_data_safety import _setup
from tests.web.conftest import Web

TARGET = {"service": "web", "environment": "production"}
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def test_a_service_without_a_database_offers_only_an_app_rollback(web: Web) -> None:
    html_ = web.client.get("/rollback", params=TARGET).text
    assert "web has no database in the spec" in html_
    assert 'name="scope"' not in html_ and 'name="backup"' not in html_
    resp = web.client.post("/rollback", data={**TARGET, "scope": "full", "reason": "x",
                                              "csrf_token": web.csrf()})
    assert resp.status_code == 400  # a forged scope is refused, on the form
    assert "web has no database in the spec" in resp.text and 'id="form-error"' in resp.text


@dataclass
class Site:
    """The server, the service's public URL, and what the test data looks like."""

    server: ApiServer
    public: str
    kept: list[dict[str, Any]]
    v2_run: str

    def form(self, **fields: str) -> httpx.Response:
        """POST the rollback form (open mode: with the browser's double-submit token)."""
        http = self.server.http
        page = http.get("/rollback", params=TARGET).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        return http.post("/rollback", data={**TARGET, "csrf_token": token[1], **fields})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """v1 (items one, two), then v2 (a migration more, item lost) of web with database main."""
    with store_database("rg_web_data") as url:
        box = Sandbox(tmp_path_factory.mktemp("web-data") / "project", database_url=url)
        (box.root / "data").mkdir()
        public = f"http://127.0.0.1:{_setup(box, f'sqlite:///{box.root}/data/app.db')}"
        install_migrations(box.root, ["0001"])
        server = ApiServer(box)
        try:
            server.start()
            server.deployed("v1")
            for name in ("one", "two"):
                assert httpx.post(f"{public}/api/items", json={"name": name}).status_code == 201
            kept = httpx.get(f"{public}/api/items").json()["items"]
            install_migrations(box.root, ["0001", "0002"])
            v2 = server.deployed("v2")
            assert httpx.post(f"{public}/api/items", json={"name": "lost"}).status_code == 201
            yield Site(server, public, kept, v2["id"])
        finally:
            try:
                server.close()
            finally:
                box.down()


def test_the_confirmation_of_a_database_rollback_states_the_data_loss(site: Site) -> None:
    backups = [b["id"] for b in site.server.http.get("/api/backups").json()["items"]]
    assert len(backups) == 2  # one per deploy, newest first
    page = site.server.http.get("/rollback", params=TARGET).text
    for scope in ("app", "db", "full"):
        assert f'name="scope" value="{scope}"' in page
    assert all(f'<option value="{b}"' in page for b in backups)

    resp = site.form(scope="db", reason="a bad import", to="v1")  # to: not for a db rollback
    assert resp.status_code == 200, resp.text
    text = html.unescape(resp.text)
    assert 'class="narrow confirm danger"' in text
    assert "scope: database only" in text
    assert ("all data written to main in production since " in text
            and f"will be lost (restored from {backups[0]}, schema revision 0001)" in text)
    assert "web answers 503 (maintenance) while the database is restored" in text
    assert "web stays at v2" in text
    fields = dict(HIDDEN.findall(resp.text))
    assert fields["scope"] == "db" and fields["backup"] == backups[0]  # the latest, pinned
    assert "to" not in fields
    runs = site.server.http.get("/api/runs").json()["items"]
    assert runs[0]["id"] == site.v2_run  # nothing started before the confirmation


def test_a_full_rollback_from_the_form_restores_app_and_data(site: Site) -> None:
    resp = site.form(scope="full", reason="v2 corrupts notes")
    assert resp.status_code == 200, resp.text
    text = html.unescape(resp.text)
    assert "web in production goes back from v2 to v1" in text and "will be lost" in text
    confirm = {k: html.unescape(v) for k, v in HIDDEN.findall(resp.text)}
    assert confirm["confirm"] == "yes" and confirm["to"] == "v1"

    started = site.server.http.post("/rollback", data=confirm)  # the Roll back button
    assert started.status_code == 303, started.text
    run_id = started.headers["location"].rsplit("/", 1)[1]
    run = site.server.wait(run_id)
    assert run["status"] == "succeeded", run
    assert (run["kind"], run["reason"], run["params"]["scope"]) == (
        "rollback", "v2 corrupts notes", "full")
    point = site.server.http.get(f"/api/backups/{run['params']['backup_id']}").json()
    assert point["run_id"] == site.v2_run  # the rollback point of the live release (v2)
    assert httpx.get(f"{site.public}/version").json()["version"] == "v1"
    assert httpx.get(f"{site.public}/api/items").json()["items"] == site.kept
