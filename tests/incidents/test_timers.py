"""Incident timers on a controlled clock: update, status page and customer reminders,
escalation of an unacknowledged page, post-mortems and action items; each written once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from rollgate.incidents import lifecycle, service, timers
from rollgate.spec.incidents import IncidentPolicy, OnCall
from rollgate.store.db import Database
from rollgate.store.tables import ActionItem, IncidentEvent, Postmortem
from rollgate.testing import Sandbox

T0 = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)
# seed 000's levels; alice is on call on the day of T0.
POLICY = IncidentPolicy(oncall=OnCall(people=["alice", "bob"], start=date(2025, 1, 6)))



def _open(db: Database, level: str = "SEV1", policy: IncidentPolicy = POLICY,
          title: str = "Checkout down") -> str:
    with db.session() as s:
        return service.open_incident(session=s, policy=policy, title=title, actor="tester",
                                     at=T0, level=level).id


def _tick(db: Database, at: datetime, policy: IncidentPolicy = POLICY) -> list[IncidentEvent]:
    with db.session() as s:
        return timers.tick(session=s, policy=policy, at=at)


def _of(events: list[IncidentEvent], timer: str,
        incident_id: str | None = None) -> list[IncidentEvent]:
    return [e for e in events if (e.detail or {}).get("timer") == timer
            and incident_id in (None, e.incident_id)]


def _timeline(db: Database, incident_id: str, timer: str) -> list[IncidentEvent]:
    with db.read() as s:
        return _of(service.timeline(session=s, incident_id=incident_id), timer)


def test_sev1_update_reminder_at_exactly_15_min_and_15_min_after_the_last_note(
        db: Database) -> None:
    inc = _open(db)
    with db.session() as s:
        service.acknowledge(session=s, incident=service.get(session=s, incident_id=inc),
                            actor="alice", at=T0 + 2 * MIN)
    assert _of(_tick(db, T0 + 15 * MIN - SEC), "update") == []

    (first,) = _of(_tick(db, T0 + 15 * MIN), "update")
    assert (first.kind, first.actor, first.at) == ("reminder", "rollgate", T0 + 15 * MIN)
    assert first.text == ("internal update due: no update for 15 min (SEV1: every 15 min); "
                          "ping alice (acknowledged the page)")
    assert first.detail == {"timer": "update", "due": (T0 + 15 * MIN).isoformat(),
                            "to": "alice", "level": "SEV1"}

    with db.session() as s:
        row = service.get(session=s, incident_id=inc)
        service.assign(session=s, incident=row, role="ic", person="carol", actor="carol",
                       at=T0 + 16 * MIN)
        service.note(session=s, incident=row, text="rolling back", actor="carol",
                     at=T0 + 20 * MIN)
    assert _of(_tick(db, T0 + 30 * MIN), "update") == []  # the note reset the clock
    assert _of(_tick(db, T0 + 35 * MIN - SEC), "update") == []
    (second,) = _of(_tick(db, T0 + 35 * MIN), "update")
    assert second.text == ("internal update due: no update for 15 min (SEV1: every 15 min); "
                           "ping carol (Incident Commander)")
    assert second.detail is not None and second.detail["to"] == "carol"
    # No update after the reminder: the next one comes a period later.
    (third,) = _of(_tick(db, T0 + 50 * MIN), "update")
    assert third.text.startswith("internal update overdue by 15 min: no update for 30 min")
    assert len(_timeline(db, inc, "update")) == 3


def test_status_page_reminder_once_at_15_min_unless_a_public_update_came_first(
        db: Database) -> None:
    silent, spoken = _open(db, title="Checkout down"), _open(db, title="Login slow")
    with db.session() as s:
        service.assign(session=s, incident=service.get(session=s, incident_id=silent),
                       role="comms", person="dave", actor="tester", at=T0 + MIN)
        service.note(session=s, incident=service.get(session=s, incident_id=spoken),
                     text="We are investigating slow logins.", actor="erin",
                     at=T0 + 10 * MIN, public=True)

    assert _of(_tick(db, T0 + 15 * MIN - SEC), "statuspage") == []
    (due,) = _of(_tick(db, T0 + 15 * MIN), "statuspage")
    assert due.incident_id == silent
    assert due.text == ("status page update due (SEV1: within 15 min): no public update "
                        "15 min after opening; ping dave (Comms)")
    assert _of(_tick(db, T0 + 45 * MIN), "statuspage") == []
    assert len(_timeline(db, silent, "statuspage")) == 1
    assert _timeline(db, spoken, "statuspage") == []


def test_customer_updates_are_due_every_30_min_after_the_last_public_one(
        db: Database) -> None:
    inc = _open(db, level="SEV0")
    assert _of(_tick(db, T0 + 30 * MIN - SEC), "customer") == []
    (first,) = _of(_tick(db, T0 + 30 * MIN), "customer")
    assert "no public update since opening 30 min ago" in first.text
    with db.session() as s:
        service.note(session=s, incident=service.get(session=s, incident_id=inc),
                     text="Checkout is failing for some customers.", actor="dave",
                     at=T0 + 40 * MIN, public=True)
    assert _of(_tick(db, T0 + 60 * MIN), "customer") == []
    (second,) = _of(_tick(db, T0 + 70 * MIN), "customer")
    assert second.text.startswith("customer update due (SEV0: every 30 min): last public "
                                  "update 30 min ago")
    assert [e.detail["due"] for e in _timeline(db, inc, "customer") if e.detail] == [
        (T0 + 30 * MIN).isoformat(), (T0 + 70 * MIN).isoformat()]


def test_an_unacknowledged_page_escalates_oncall_then_ops_lead_then_cto(db: Database) -> None:
    inc = _open(db)
    assert _of(_tick(db, T0 + 15 * MIN - SEC), "escalation") == []

    (ops,) = _of(_tick(db, T0 + 15 * MIN), "escalation")
    assert (ops.kind, ops.at) == ("escalation", T0 + 15 * MIN)
    assert ops.text == "paged Ops lead (ops-lead): not acknowledged within 15 min"
    assert ops.detail is not None and (ops.detail["step"], ops.detail["to"]) == (1, "ops-lead")

    assert _of(_tick(db, T0 + 30 * MIN - SEC), "escalation") == []
    (cto,) = _of(_tick(db, T0 + 30 * MIN), "escalation")
    assert cto.text == "paged CTO (cto): not acknowledged within 15 min"

    # The chain ends with the CTO: remind every response time instead of paging again.
    at_end = _tick(db, T0 + 45 * MIN)
    assert _of(at_end, "escalation") == []
    (again,) = _of(at_end, "unacknowledged")
    assert again.text == ("page still not acknowledged 15 min after paging CTO (cto), the "
                          "last step of the escalation chain; ping cto again")
    assert again.detail is not None and again.detail["to"] == "cto"
    with db.read() as s:
        row = service.get(session=s, incident_id=inc)
        assert (row.escalation_step, row.paged_at) == (2, T0 + 30 * MIN)


def test_acknowledging_stops_the_escalation(db: Database) -> None:
    inc = _open(db)
    assert len(_of(_tick(db, T0 + 15 * MIN), "escalation")) == 1
    with db.session() as s:
        ack = service.acknowledge(session=s, incident=service.get(session=s, incident_id=inc),
                                  actor="ops-lead", at=T0 + 20 * MIN)
        assert ack is not None
    later = _tick(db, T0 + 3 * 60 * MIN)
    assert _of(later, "escalation") == [] and _of(later, "unacknowledged") == []
    with db.read() as s:
        assert service.get(session=s, incident_id=inc).escalation_step == 1


def test_an_immediate_response_level_escalates_after_five_minutes(db: Database) -> None:
    policy = IncidentPolicy(severity="mantisnxt")  # SEV1: respond_within 0 (immediate)
    _open(db, policy=policy)
    assert _of(_tick(db, T0 + 5 * MIN - SEC, policy), "escalation") == []
    (ops,) = _of(_tick(db, T0 + 5 * MIN, policy), "escalation")
    assert ops.text == "paged Ops lead (ops-lead): not acknowledged within 5 min"


def test_a_second_tick_at_the_same_moment_writes_nothing(db: Database) -> None:
    inc = _open(db, level="SEV0")
    first = _tick(db, T0 + 60 * MIN)
    assert {(e.detail or {}).get("timer") for e in first} == {
        "update", "statuspage", "customer", "escalation", "unacknowledged"}
    assert _tick(db, T0 + 60 * MIN) == []
    with db.read() as s:
        count = s.scalar(select(func.count()).select_from(IncidentEvent).where(
            IncidentEvent.incident_id == inc))
    assert _tick(db, T0 + 60 * MIN + 30 * SEC) == []
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(IncidentEvent).where(
            IncidentEvent.incident_id == inc)) == count


def test_after_an_hour_of_downtime_one_update_reminder_and_escalation_step_by_step(
        db: Database) -> None:
    inc = _open(db)
    written = _tick(db, T0 + 60 * MIN)  # the first pass after an hour without one

    (update,) = _of(written, "update")
    assert update.text == ("internal update overdue by 45 min: no update for 1 h (SEV1: "
                           "every 15 min); ping cto (paged)")  # the last one paged
    assert update.detail is not None and update.detail["due"] == (T0 + 60 * MIN).isoformat()
    assert [(e.text, e.at) for e in _of(written, "escalation")] == [
        ("paged Ops lead (ops-lead): not acknowledged within 15 min", T0 + 15 * MIN),
        ("paged CTO (cto): not acknowledged within 15 min", T0 + 30 * MIN)]
    (unacked,) = _of(written, "unacknowledged")
    assert unacked.text.startswith("page still not acknowledged 30 min after paging CTO")
    assert len(_of(written, "statuspage")) == 1
    (customer,) = _of(written, "customer")
    assert "no public update since opening 1 h ago" in customer.text
    with db.read() as s:
        kinds = [e.kind for e in service.timeline(session=s, incident_id=inc)]
    assert kinds.count("escalation") == 2


def test_resolved_incidents_get_no_reminders_or_escalation(db: Database) -> None:
    inc = _open(db, level="SEV0")
    with db.session() as s:
        service.move(session=s, incident=service.get(session=s, incident_id=inc),
                     to=lifecycle.RESOLVED, actor="tester", at=T0 + 5 * MIN, policy=POLICY)
    assert _tick(db, T0 + 3 * 60 * MIN) == []
    with db.read() as s:  # only the post-mortem, due 72 h after the resolution
        coming = timers.next_due(s, POLICY, service.get(session=s, incident_id=inc),
                                 T0 + 3 * 60 * MIN)
    assert [(d.timer, d.due) for d in coming] == [("postmortem", T0 + 5 * MIN + 72 * 60 * MIN)]


def test_a_level_change_changes_the_cadence_from_then_on(db: Database) -> None:
    inc = _open(db, level="SEV2")  # internal updates every 30 min
    with db.session() as s:
        service.set_level(session=s, policy=POLICY, level="SEV1", actor="carol",
                          incident=service.get(session=s, incident_id=inc), at=T0 + 10 * MIN)
    assert _of(_tick(db, T0 + 25 * MIN - SEC), "update") == []
    (due,) = _of(_tick(db, T0 + 25 * MIN), "update")
    assert "(SEV1: every 15 min)" in due.text
    with db.session() as s:
        service.set_level(session=s, policy=POLICY, level="SEV3", actor="carol",
                          incident=service.get(session=s, incident_id=inc), at=T0 + 26 * MIN)
    assert _of(_tick(db, T0 + 3 * 60 * MIN), "update") == []  # SEV3 has no update cadence


def test_an_overdue_postmortem_is_brought_up_daily_until_published(db: Database) -> None:
    inc = _open(db)
    due_at = T0 + 73 * 60 * MIN
    with db.session() as s:
        row = service.get(session=s, incident_id=inc)
        service.move(session=s, incident=row, to=lifecycle.RESOLVED, actor="tester",
                     at=T0 + 60 * MIN, policy=POLICY)
        row.postmortem_due_at = due_at
    assert _tick(db, due_at - SEC) == []
    (first,) = _of(_tick(db, due_at), "postmortem")
    assert first.text == ("post-mortem due now (2025-01-09 15:00 UTC), still a draft; ping "
                          "alice (paged)")  # resolving drafted it
    assert _tick(db, due_at + 23 * 60 * MIN) == []
    (second,) = _of(_tick(db, due_at + 24 * 60 * MIN), "postmortem")
    assert second.text.startswith("post-mortem overdue by 24 h (due 2025-01-09 15:00 UTC), "
                                  "still a draft")
    with db.session() as s:
        doc = s.get(Postmortem, inc)
        assert doc is not None
        doc.status, doc.published_at = "published", due_at + 25 * 60 * MIN
    assert _tick(db, due_at + 5 * 24 * 60 * MIN) == []


def test_each_overdue_action_item_is_brought_up_once_to_its_owner(db: Database) -> None:
    inc = _open(db, level="SEV3")
    week = T0 + 7 * 24 * 60 * MIN
    with db.session() as s:
        s.add_all([
            ActionItem(incident_id=inc, title="Alert on checkout 5xx", owner="erin",
                       due_at=week, created_at=T0, created_by="carol"),
            ActionItem(incident_id=inc, title="Add a smoke test", owner="frank",
                       due_at=week, created_at=T0, created_by="carol", done_at=T0),
            ActionItem(incident_id=inc, title="Load test", owner="gina",
                       due_at=week + 60 * MIN, created_at=T0, created_by="carol")])
    assert _of(_tick(db, week - SEC), "action") == []
    (erin,) = _of(_tick(db, week + 30 * MIN), "action")
    assert erin.detail is not None and erin.detail["to"] == "erin"
    assert erin.text.startswith("action item #")
    assert "overdue by 30 min: Alert on checkout 5xx (owner erin, due 2025-01-13 14:00 UTC)" \
        in erin.text
    (gina,) = _of(_tick(db, week + 2 * 60 * MIN), "action")
    assert gina.detail is not None and gina.detail["to"] == "gina"
    assert _of(_tick(db, week + 30 * 24 * 60 * MIN), "action") == []


def test_next_due_lists_the_coming_timers_and_those_not_written_yet(db: Database) -> None:
    inc = _open(db)
    with db.read() as s:
        row = service.get(session=s, incident_id=inc)
        coming = timers.next_due(s, POLICY, row, T0 + 5 * MIN)
    assert [(d.timer, d.due - T0, d.to) for d in coming] == [
        ("escalation", 15 * MIN, "ops-lead"), ("statuspage", 15 * MIN, "alice"),
        ("update", 15 * MIN, "alice"), ("customer", 30 * MIN, "alice")]
    assert coming[0].what == "escalate to Ops lead (ops-lead) unless acknowledged"

    with db.read() as s:  # nobody ticked: what is due is listed as due
        row = service.get(session=s, incident_id=inc)
        overdue = timers.next_due(s, POLICY, row, T0 + 16 * MIN)
    assert [(d.timer, d.due - T0) for d in overdue][:3] == [
        ("escalation", 15 * MIN), ("statuspage", 15 * MIN), ("update", 15 * MIN)]

    _tick(db, T0 + 16 * MIN)
    with db.read() as s:
        row = service.get(session=s, incident_id=inc)
        after = timers.next_due(s, POLICY, row, T0 + 16 * MIN)
    assert [(d.timer, d.due - T0) for d in after] == [
        ("customer", 30 * MIN), ("escalation", 30 * MIN), ("update", 30 * MIN)]


def test_incident_tick_runs_one_pass_and_prints_what_it_wrote(sandbox: Sandbox) -> None:
    sandbox.write_spec({"project": "shop", "services": {"web": {"command": "true",
                                                                "port": 18080}},
                        "environments": {"production": {}}})
    sandbox.store().migrate()
    inc = _open(sandbox.store(), policy=IncidentPolicy())

    proc = sandbox.run("incident", "tick", "--at", "2025-01-06T14:15:00", "--json")
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    assert sorted((e["incident"], e["kind"], e["detail"]["timer"]) for e in written) == [
        (inc, "escalation", "escalation"), (inc, "reminder", "statuspage"),
        (inc, "reminder", "update")]

    plain = sandbox.run("incident", "tick", "--at", "2025-01-06T14:15:00")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "nothing due at 2025-01-06 14:15:00 UTC"
    plain = sandbox.run("incident", "tick", "--at", "2025-01-06T16:30:00+02:00")
    assert f"{inc}  2025-01-06 14:30:00 UTC  escalation: paged CTO (cto)" in plain.stdout
    assert "reminder: internal update overdue by 15 min: no update for 30 min" in plain.stdout
