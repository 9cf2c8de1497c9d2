"""The status page's data from the store (SQLite, or PostgreSQL with ROLLGATE_TEST_DB=postgres):
component states from incidents and maintenance, what is public, and day-by-day history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import event

from rollgate.incidents import service
from rollgate.spec.models import Spec
from rollgate.statuspage import feed, views
from rollgate.statuspage.summary import Summary, summarize
from rollgate.store import notices
from rollgate.store.db import Database
from rollgate.store.tables import Incident, MaintenanceNotice

T0 = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def make_spec(**status_page: Any) -> Spec:
    """web, api and db in staging and production; the status page's settings."""
    return Spec.model_validate({
        "project": "shop",
        "services": {"web": {"command": "true", "port": 8000},
                     "api": {"command": "true", "port": 8001},
                     "db": {"command": "true", "port": 8002}},
        "environments": {"staging": {}, "production": {}},
        "status_page": {"components": {"web": {"name": "Website",
                                               "description": "the shop"}},
                        **status_page},
    })


SPEC = make_spec()


def open_(db: Database, title: str, *, level: str = "SEV1", service_name: str | None = "web",
          environment: str | None = "production", at: datetime = T0,
          summary: str | None = None, spec: Spec = SPEC) -> str:
    """Open an incident; its id."""
    with db.session() as s:
        row = service.open_incident(session=s, policy=spec.incidents, title=title,
                                    actor="ana", at=at, level=level, service=service_name,
                                    environment=environment, summary=summary)
        return row.id


def move(db: Database, incident_id: str, to: str, at: datetime, note: str | None = None,
         public: bool = False) -> None:
    """Change an incident's status."""
    with db.session() as s:
        row = service.get(session=s, incident_id=incident_id)
        service.move(session=s, policy=SPEC.incidents, incident=row, to=to, actor="ana",
                     at=at, note=note, public=public)


def notice(db: Database, title: str, starts: datetime, ends: datetime, *,
           service_name: str | None = None, environment: str = "production",
           cancelled: bool = False, message: str | None = None) -> int:
    """Announce maintenance; its id."""
    with db.session() as s:
        row = notices.add(session=s, row=MaintenanceNotice(
            environment=environment, service=service_name, title=title, message=message,
            starts_at=starts, ends_at=ends, posted_at=starts - 2 * D, posted_by="ops",
            cancelled_at=starts - D if cancelled else None))
        return row.id


def summary_at(db: Database, now: datetime, spec: Spec = SPEC) -> Summary:
    """The status page at ``now``."""
    with db.read() as s:
        return summarize(s, spec, now)


def states(summary: Summary) -> dict[str, str]:
    """Each component's state."""
    return {c.id: c.state for c in summary.components}


def test_components_take_the_worst_open_incident_of_the_status_environment(
        db: Database) -> None:
    summary = summary_at(db, T0)
    assert states(summary) == dict.fromkeys(("web", "api", "db"), "operational")
    assert (summary.indicator, summary.description) == ("none", "All Systems Operational")
    assert [(c.name, c.description) for c in summary.components] == [
        ("Website", "the shop"), ("api", None), ("db", None)]

    open_(db, "Checkout slow", level="SEV2")
    open_(db, "API errors", level="SEV1", service_name="api")
    open_(db, "Staging down", level="SEV0", environment="staging")  # another environment
    summary = summary_at(db, T0 + H)
    assert states(summary) == {"web": "degraded", "api": "partial_outage", "db": "operational"}
    assert (summary.indicator, summary.description) == ("major", "Partial System Outage")
    assert {i.name for i in summary.active} == {"Checkout slow", "API errors"}

    open_(db, "Checkout down", level="SEV0", at=T0 + 2 * H)
    summary = summary_at(db, T0 + 3 * H)
    assert states(summary)["web"] == "major_outage"
    assert (summary.indicator, summary.description) == ("critical", "Major System Outage")
    assert summary_at(db, T0 + H).components[0].state == "degraded"  # before it was opened


def test_an_incident_of_no_service_or_environment_affects_every_component(db: Database
                                                                         ) -> None:
    open_(db, "Payments provider down", level="SEV3", service_name=None, environment=None)
    summary = summary_at(db, T0 + H)
    assert states(summary) == dict.fromkeys(("web", "api", "db"), "degraded")
    assert summary.active[0].components == ("web", "api", "db")
    (opening,) = summary.active[0].updates  # without a summary the opening says no more
    assert (opening.status, opening.body) == ("investigating", "")
    assert summary.indicator == "minor"


def test_states_by_level_come_from_the_spec(db: Database) -> None:
    spec = make_spec(states={"SEV3": "major_outage", "SEV0": "degraded"})
    open_(db, "Minor but loud", level="SEV3", service_name="api", spec=spec)
    open_(db, "Big but contained", level="SEV0", service_name="db", spec=spec)
    assert states(summary_at(db, T0 + H, spec)) == {
        "web": "operational", "api": "major_outage", "db": "degraded"}
    assert states(summary_at(db, T0 + H)) == {  # the defaults, by position
        "web": "operational", "api": "degraded", "db": "major_outage"}


def test_maintenance_in_progress_puts_components_under_maintenance(db: Database) -> None:
    notice(db, "Database upgrade", T0 - H, T0 + H, service_name="db",
           message="Writes pause for a minute.")
    upcoming = notice(db, "Network work", T0 + D, T0 + D + H)
    notice(db, "Called off", T0 - H, T0 + H, service_name="web", cancelled=True)
    notice(db, "Staging only", T0 - H, T0 + H, service_name="api", environment="staging")
    summary = summary_at(db, T0)
    assert states(summary) == {"web": "operational", "api": "operational",
                               "db": "under_maintenance"}
    assert (summary.indicator, summary.description) == ("maintenance",
                                                        "Service Under Maintenance")
    assert [(m.name, m.status, m.message) for m in summary.scheduled] == [
        ("Database upgrade", "in_progress", "Writes pause for a minute."),
        ("Network work", "scheduled", "")]

    open_(db, "DB errors", level="SEV2", service_name="db")  # an incident is worse
    assert states(summary_at(db, T0 + 10 * 60 * timedelta(seconds=1)))["db"] == "degraded"

    later = summary_at(db, T0 + D + 30 * timedelta(minutes=1))  # during the network work
    assert states(later) == {"web": "under_maintenance", "api": "under_maintenance",
                             "db": "degraded"}
    assert [m.id for m in later.scheduled] == [upcoming]
    history = {d.date: d for d in later.history}
    assert history[T0.date()].states["db"] == "degraded"
    assert history[T0.date()].states["api"] == "operational"


def test_a_resolved_incident_leaves_the_components_but_stays_in_that_days_history(
        db: Database) -> None:
    inc = open_(db, "Checkout down", level="SEV0", summary="Some customers cannot pay.")
    move(db, inc, "identified", T0 + H, note="A bad config push.", public=True)
    move(db, inc, "resolved", T0 + 2 * H, note="Config rolled back.", public=True)
    summary = summary_at(db, T0 + D)
    assert states(summary)["web"] == "operational"
    assert summary.indicator == "none" and summary.active == ()
    (past,) = summary.past
    assert (past.id, past.status, past.resolved_at) == (inc, "resolved", T0 + 2 * H)
    assert [(u.status, u.body) for u in past.updates] == [
        ("resolved", "Config rolled back."), ("identified", "A bad config push."),
        ("investigating", "Some customers cannot pay.")]
    days = {d.date: d for d in summary.history}
    today, incident_day = days[(T0 + D).date()], days[T0.date()]
    assert incident_day.states == {"web": "major_outage", "api": "operational",
                                   "db": "operational"}
    assert [i.id for i in incident_day.incidents] == [inc]
    assert incident_day.tooltip("web") == "2025-03-10: Major Outage — Checkout down"
    assert incident_day.tooltip("db") == "2025-03-10: Operational"
    assert today.states["web"] == "operational" and today.incidents == ()
    assert days[(T0 - D).date()].states["web"] == "operational"

    at_noon = summary_at(db, T0 + H + 30 * timedelta(minutes=1))  # before it was resolved
    assert states(at_noon)["web"] == "major_outage"
    assert [u.status for u in at_noon.active[0].updates] == ["identified", "investigating"]


def test_an_incident_over_several_days_marks_each_of_them(db: Database) -> None:
    inc = open_(db, "Slow search", level="SEV2", service_name="api")
    move(db, inc, "resolved", T0 + 2 * D)
    days = {d.date: d.states["api"] for d in summary_at(db, T0 + 5 * D).history}
    assert [days[(T0 + n * D).date()] for n in range(-1, 4)] == [
        "operational", "degraded", "degraded", "degraded", "operational"]


def test_history_covers_history_days_utc_days(db: Database) -> None:
    now = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    old = open_(db, "Long ago", at=now - 100 * D)
    move(db, old, "resolved", now - 99 * D)
    edge = open_(db, "At the edge", at=datetime(2025, 3, 4, 23, 0, tzinfo=UTC))
    move(db, edge, "resolved", datetime(2025, 3, 5, 0, 30, tzinfo=UTC))
    summary = summary_at(db, now)
    assert len(summary.history) == 90
    assert summary.history[0].date == date(2025, 3, 4)
    assert summary.history[-1].date == date(2025, 6, 1)
    assert [i.id for i in summary.incidents] == [edge]
    assert summary.history[0].states["web"] == summary.history[1].states["web"] == \
        "partial_outage"
    assert summary.history[2].states["web"] == "operational"

    week = summary_at(db, now, make_spec(history_days=7))
    assert [d.date for d in week.history] == [date(2025, 5, 26) + n * D for n in range(7)]
    assert week.incidents == ()


def test_internal_notes_and_responder_details_never_reach_the_public(db: Database) -> None:
    secret_bits = ["INTERNAL-note-5f2c", "INTERNAL-move-9a1b", "INTERNAL-reason-77", "carol",
                   "ana", "#inc-"]
    inc = open_(db, "Checkout errors", summary="Payments fail for some cards.")
    with db.session() as s:
        row = service.get(session=s, incident_id=inc)
        service.note(session=s, incident=row, text="INTERNAL-note-5f2c db password rotated",
                     actor="ana", at=T0 + H)
        service.note(session=s, incident=row, text="We are looking into failed payments.",
                     actor="ana", at=T0 + 2 * H, public=True)
        service.assign(session=s, incident=row, role="commander", person="carol", actor="ana",
                       at=T0 + 2 * H)
        service.acknowledge(session=s, incident=row, actor="carol", at=T0 + 2 * H)
        service.set_level(session=s, policy=SPEC.incidents, incident=row, level="SEV2",
                          actor="carol", at=T0 + 2 * H, reason="INTERNAL-reason-77")
        service.link(session=s, incident=row, kind="run", ref="run-secret-123", actor="carol",
                     at=T0 + 2 * H)
    move(db, inc, "identified", T0 + 3 * H, note="INTERNAL-move-9a1b", public=False)
    move(db, inc, "mitigating", T0 + 4 * H, note="A fix is rolling out.", public=True)

    summary = summary_at(db, T0 + 5 * H)
    (incident,) = summary.active
    assert [(u.status, u.body) for u in incident.updates] == [
        ("mitigating", "A fix is rolling out."), ("identified", ""),
        ("investigating", "We are looking into failed payments."),
        ("investigating", "Payments fail for some cards.")]
    with db.read() as s:
        opened = [e.text for e in service.timeline(session=s, incident_id=inc)
                  if e.kind == "opened"]
    published = [json.dumps(views.summary_dict(summary), default=str),
                 feed.atom(summary, page_url="http://x/status", feed_url="http://x/status.atom",
                           authority="x").decode()]
    for text in published:
        assert "We are looking into failed payments." in text
        for bit in [*secret_bits, "run-secret-123", opened[0]]:
            assert bit not in text, bit


def test_the_feed_is_atom_newest_first(db: Database) -> None:
    inc = open_(db, "Checkout errors")
    move(db, inc, "resolved", T0 + H, note="Fixed.", public=True)
    notice(db, "Database upgrade", T0 + D, T0 + D + H, message="Short pause.")
    summary = summary_at(db, T0 + 2 * H)
    root = ET.fromstring(feed.atom(summary, page_url="http://status.example/status",
                                   feed_url="http://status.example/status.atom",
                                   authority="status.example"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    entries = root.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == [
        "Checkout errors — Resolved", "Checkout errors — Investigating",
        "Maintenance: Database upgrade"]  # posted the day before
    assert [e.findtext("a:updated", namespaces=ns) for e in entries] == [
        "2025-03-10T15:30:00Z", "2025-03-10T14:30:00Z", "2025-03-09T14:30:00Z"]
    ids = [e.findtext("a:id", namespaces=ns) or "" for e in entries]
    assert all(i.startswith("tag:status.example,2025:status/production/") for i in ids)
    assert len(set(ids)) == 3
    assert entries[0].find("a:content", ns).attrib["type"] == "text"  # type: ignore[union-attr]
    assert entries[0].findtext("a:content", namespaces=ns) == "Fixed."
    assert entries[2].find("a:link", ns).attrib["href"].startswith(  # type: ignore[union-attr]
        "http://status.example/status#maintenance-")
    assert root.findtext("a:updated", namespaces=ns) == "2025-03-10T15:30:00Z"


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    """The SQL statements run meanwhile."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_three_queries_whatever_the_number_of_incidents_and_days(db: Database) -> None:
    for n in range(12):
        inc = open_(db, f"Incident {n}", at=T0 - n * 5 * D, service_name=None)
        move(db, inc, "resolved", T0 - n * 5 * D + H, note=f"fixed {n}", public=True)
    notice(db, "Upgrade", T0 - 3 * D, T0 - 3 * D + H)
    with counting(db) as statements:
        summary = summary_at(db, T0 + H)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, statements
    assert len(summary.past) == 12 and len(summary.history) == 90
    assert all(len(i.updates) == 2 for i in summary.past)
    with db.session() as s:
        assert s.query(Incident).count() == 12
