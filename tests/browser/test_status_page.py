"""The public status page in headless Chromium, against a real ``rollgate serve`` with users:
no login, components and their states, the active incident's public updates only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from rollgate.incidents import service
from rollgate.spec.loader import load_spec
from rollgate.store.runs import now
from rollgate.store.tables import Incident, IncidentEvent
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer
from tests.conftest import store_database

INTERNAL = "INTERNAL: the primary ran out of disk"
PUBLIC = "Card payments fail for some customers; we are rolling back."


@pytest.fixture(scope="module")
def status_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server with a user (so the dashboard needs a login) and a three-component page."""
    with store_database("rg_status_browser") as url:
        box = Sandbox(tmp_path_factory.mktemp("status-browser") / "project",
                      database_url=url)
        box.write_spec({
            "project": "shop",
            "services": {name: demo_service(free_port(), box.faults_path)
                         for name in ("web", "payments", "search")},
            "environments": {"production": {"strategy": {"kind": "recreate"}}},
            "status_page": {"title": "Shop status", "components": {
                "web": {"name": "Storefront", "description": "browsing and the cart"},
                "payments": {"name": "Payments"}}},
        })
        server = ApiServer(box)
        try:
            server.start()
            server.act_as_admin()  # its token also serves the cleanup
            yield server
        finally:
            try:
                server.close()
            finally:
                box.down()


@pytest.fixture
def tab(browser: Browser, status_server: ApiServer) -> Iterator[Page]:
    """A tab of a fresh profile (no session); script errors, CSP violations and failed loads
    (but the favicon, which rollgate has none of) land in ``tab.errors``."""
    ctx = browser.new_context(base_url=status_server.url)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.on("response", lambda resp: errors.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and not resp.url.endswith("/favicon.ico") else None)
    page.errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        ctx.close()


def _open_incident(server: ApiServer) -> str:
    """A SEV1 on payments with an internal note, a public update and a private move."""
    spec = load_spec(server.box.spec_path)
    db = server.box.store()
    with db.session() as s:
        row = service.open_incident(session=s, policy=spec.incidents, title="Payments failing",
                                    actor="ana", at=now(), level="SEV1", service="payments",
                                    environment="production")
        service.note(session=s, incident=row, text=INTERNAL, actor="ana", at=now())
        service.note(session=s, incident=row, text=PUBLIC, actor="ana", at=now(),
                     public=True)
        service.move(session=s, policy=spec.incidents, incident=row, to="identified",
                     actor="ana", at=now(), note=f"{INTERNAL} (move)")
        return row.id


def test_the_status_page_shows_components_and_public_updates_without_login(
        status_server: ApiServer, tab: Page) -> None:
    tab.goto("/")
    tab.wait_for_url("**/login?next=*")  # the dashboard is closed to visitors

    tab.goto("/status")
    expect(tab.locator("h1")).to_have_text("Shop status")
    expect(tab.locator("#overall")).to_have_text("All Systems Operational")
    for cid, name in (("web", "Storefront"), ("payments", "Payments"), ("search", "search")):
        row = tab.locator(f"#component-{cid}")
        expect(row.locator(".component-name")).to_have_text(name)
        expect(row.locator(".component-state")).to_have_text("Operational")
        expect(row.locator(".history .day")).to_have_count(90)
    expect(tab.locator("#active-incidents")).to_have_count(0)

    incident_id = _open_incident(status_server)
    tab.reload()
    expect(tab.locator("#overall")).to_have_text("Partial System Outage")
    # status.css is served and allowed by the CSP: the banner is the partial-outage orange
    expect(tab.locator("#overall")).to_have_css("background-color", "rgb(232, 89, 12)")
    expect(tab.locator("#component-payments .component-state")).to_have_text("Partial Outage")
    expect(tab.locator("#component-payments")).to_have_attribute("data-state",
                                                                 "partial_outage")
    expect(tab.locator("#component-web .component-state")).to_have_text("Operational")
    today = tab.locator("#component-payments .history .day").last
    expect(today).to_have_attribute("title", today_title("Partial Outage — Payments failing"))
    incident = tab.locator(f"#incident-{incident_id}")
    expect(incident.locator(".name")).to_have_text("Payments failing")
    expect(incident.locator(".incident-status")).to_have_text("Identified")
    expect(incident.locator(".meta")).to_contain_text("affects Payments")
    expect(incident.locator(".update .body")).to_contain_text([PUBLIC])
    body = tab.locator("body").inner_text()
    assert "INTERNAL" not in body and "ana" not in body.split()
    assert "opened SEV1" not in body
    assert tab.errors == []  # type: ignore[attr-defined]  # no CSP violation, no script error

    summary: dict[str, Any] = tab.evaluate(
        "async () => (await fetch('/status.json', {credentials: 'omit'})).json()")
    with status_server.box.store().read() as s:
        rows = list(s.scalars(select(Incident).where(Incident.resolved_at.is_(None))))
        public = list(s.scalars(select(IncidentEvent).where(
            IncidentEvent.incident_id == incident_id, IncidentEvent.public.is_(True))))
    assert [(i["id"], i["name"], i["status"], datetime.fromisoformat(i["created_at"]))
            for i in summary["incidents"]] == [(r.id, r.title, r.status, r.opened_at)
                                               for r in rows]
    bodies = [u["body"] for u in summary["incidents"][0]["updates"]]
    assert [e.text for e in public] == [PUBLIC] and PUBLIC in bodies
    assert not any("INTERNAL" in b for b in bodies)
    assert {c["id"]: c["status"] for c in summary["components"]} == {
        "web": "operational", "payments": "partial_outage", "search": "operational"}


def today_title(rest: str) -> str:
    """Today's tooltip text (the bar's title): ``YYYY-MM-DD: <rest>``."""
    return f"{now().date().isoformat()}: {rest}"
