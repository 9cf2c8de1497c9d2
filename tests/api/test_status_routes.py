"""The public status page over a real ``rollgate serve`` with users: /status, /status.json
and /status.atom answer without credentials and show only public updates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from sqlalchemy import select

from rollgate.incidents import lifecycle
from rollgate.store.tables import Incident
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer
from tests.conftest import store_database

ATOM = "{http://www.w3.org/2005/Atom}"
ROUTES = ("/status", "/status.json", "/status.atom")
INTERNAL = "INTERNAL-db-failover-4411"
SPEC: dict[str, Any] = {"project": "shop", "environments": {
    "staging": {"strategy": {"kind": "recreate"}},
    "production": {"strategy": {"kind": "recreate"}}}}


def write_spec(box: Sandbox, **status_page: Any) -> None:
    """web and api in staging and production; the status page's settings."""
    box.write_spec({**SPEC,
                    "services": {"web": demo_service(free_port(), box.faults_path),
                                 "api": demo_service(free_port(), box.faults_path)},
                    "status_page": {"title": "Shop status",
                                    "components": {"web": {"name": "Storefront"}},
                                    **status_page}})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server with an admin (so every other route needs credentials); the client acts
    as the admin."""
    with store_database("rg_status") as url:
        box = Sandbox(tmp_path_factory.mktemp("status") / "project", database_url=url)
        write_spec(box)
        api = ApiServer(box)
        try:
            api.start()
            api.act_as_admin("root")
            yield api
        finally:
            try:
                api.close()
            finally:
                box.down()


def anonymous(server: ApiServer, path: str) -> httpx.Response:
    """GET without credentials."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.get(path)


def post(server: ApiServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST as the admin; the answer."""
    resp = server.http.post(path, json=body)
    assert resp.status_code in (200, 201), resp.text
    return dict(resp.json())


def test_the_status_page_needs_no_credentials_on_a_server_with_users(server: ApiServer
                                                                     ) -> None:
    assert anonymous(server, "/api/incidents").status_code == 401
    assert anonymous(server, "/").status_code in (303, 307)  # the dashboard wants a login
    for path in ROUTES:
        resp = anonymous(server, path)
        assert resp.status_code == 200, (path, resp.text)
        assert resp.headers["cache-control"] == "public, max-age=15"
        assert "unsafe-inline" not in resp.headers["content-security-policy"]
        assert "set-cookie" not in resp.headers
    assert anonymous(server, "/status").headers["content-type"].startswith("text/html")
    assert anonymous(server, "/status.atom").headers["content-type"].startswith(
        "application/atom+xml")
    body = anonymous(server, "/status.json").json()
    assert body["page"]["name"] == "Shop status"
    assert body["page"]["environment"] == "production"
    assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert [(c["id"], c["name"], c["status"]) for c in body["components"]] == [
        ("web", "Storefront", "operational"), ("api", "api", "operational")]
    assert len(body["history"]) == 90
    assert anonymous(server, "/static/status.css").status_code == 200


def test_the_json_shows_the_stores_open_incidents_with_their_public_updates_only(
        server: ApiServer) -> None:
    web = post(server, "/api/incidents", {"title": "Checkout fails", "level": "SEV1",
                                          "service": "web", "environment": "production",
                                          "summary": "Some payments fail."})
    post(server, f"/api/incidents/{web['id']}/notes", {"text": INTERNAL})
    post(server, f"/api/incidents/{web['id']}/notes",
         {"text": "We are rolling back the last release.", "public": True})
    post(server, f"/api/incidents/{web['id']}/status",
         {"to": "identified", "note": f"{INTERNAL} again", "public": False})
    post(server, f"/api/incidents/{web['id']}/roles", {"role": "commander", "person": "zed"})
    post(server, "/api/incidents", {"title": "Staging broken", "level": "SEV0",
                                    "service": "api", "environment": "staging"})
    gone = post(server, "/api/incidents", {"title": "API blip", "level": "SEV3",
                                           "service": "api", "environment": "production"})
    post(server, f"/api/incidents/{gone['id']}/status",
         {"to": "resolved", "note": "Recovered by itself.", "public": True})

    body = anonymous(server, "/status.json").json()
    with server.box.store().read() as s:
        expected = list(s.scalars(
            select(Incident).where(Incident.status.in_(lifecycle.OPEN),
                                   (Incident.environment == "production")
                                   | Incident.environment.is_(None))
            .order_by(Incident.opened_at.desc())))
    assert [(i["id"], i["name"], i["status"], datetime.fromisoformat(i["created_at"]))
            for i in body["incidents"]] == [(r.id, r.title, r.status, r.opened_at)
                                            for r in expected]
    (incident,) = body["incidents"]
    assert incident["impact"] == "major" and incident["resolved_at"] is None
    assert [(u["status"], u["body"]) for u in incident["updates"]] == [
        ("identified", ""), ("investigating", "We are rolling back the last release."),
        ("investigating", "Some payments fail.")]
    assert {c["id"]: c["status"] for c in body["components"]} == {
        "web": "partial_outage", "api": "operational"}
    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    today = body["history"][-1]
    assert today["components"] == {"web": "partial_outage", "api": "degraded"}
    assert {i["name"] for i in today["incidents"]} == {"Checkout fails", "API blip"}

    page = anonymous(server, "/status").text
    assert "We are rolling back the last release." in page and "Storefront" in page
    feed = anonymous(server, "/status.atom")
    root = ET.fromstring(feed.content)
    assert root.tag == f"{ATOM}feed"
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert "API blip — Resolved" in titles and "Checkout fails — Identified" in titles
    assert "Staging broken" not in "".join(t or "" for t in titles)
    for resp in (page, anonymous(server, "/status.json").text, feed.text):
        for hidden in (INTERNAL, "zed", "root", "Staging broken", "#inc-"):
            assert hidden not in resp, hidden


def test_a_disabled_status_page_is_not_found(server: ApiServer) -> None:
    write_spec(server.box, enabled=False)
    try:
        for path in ROUTES:
            assert anonymous(server, path).status_code == 404, path
        assert anonymous(server, "/status.json").json()["error"]["code"] == "not_found"
    finally:
        write_spec(server.box)
    assert anonymous(server, "/status.json").status_code == 200
