"""The outbox on the real store (SQLite or PostgreSQL) and a real loopback receiver: events
written with the change that causes them, routed by the spec (events, environments,
severity, public updates, quiet hours), delivered with retries and backoff, dead-lettered
after the last attempt and sent again on request; nothing lost, nothing sent twice."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from rollgate.errors import RefusedError
from rollgate.incidents import service
from rollgate.notify import events, maintenance, outbox
from rollgate.spec.incidents import IncidentPolicy
from rollgate.spec.models import Spec
from rollgate.spec.notify import Delivery, QuietHours
from rollgate.store.db import Database
from rollgate.store.tables import MaintenanceNotice, Notification, NotifyEvent
from rollgate.testing.receivers import Receiver

T0 = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
SECRET = "s3cret-signing-key"


def make_spec(url: str, routes: list[dict[str, Any]] | None = None,
              delivery: dict[str, Any] | None = None) -> Spec:
    return Spec.model_validate({
        "project": "shop",
        "services": {"web": {"command": "true", "port": 8080},
                     "api": {"command": "true", "port": 8081}},
        "environments": {"staging": {}, "production": {}},
        "notifications": {
            "channels": {"hook": {"type": "webhook", "url": url,
                                  "secret": "${RG_TEST_HOOK_SECRET}"},
                         "ops": {"type": "webhook", "url": url + "/ops"}},
            "routes": routes if routes is not None else [{"events": ["*"],
                                                         "channels": ["hook"]}],
            "delivery": delivery or {"max_attempts": 3, "backoff": "1ms",
                                     "max_backoff": "1ms", "timeout": "2s"},
        },
    })


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RG_TEST_HOOK_SECRET", SECRET)


def _open(db: Database, level: str = "SEV1", environment: str | None = "production",
          title: str = "Checkout down") -> str:
    with db.session() as s:
        return service.open_incident(session=s, policy=IncidentPolicy(), title=title,
                                     actor="ana", at=T0, level=level, service="web",
                                     environment=environment).id


def _drain(db: Database, spec: Spec, client: httpx.Client, rounds: int = 10) -> None:
    for _ in range(rounds):
        if outbox.run_pass(db, spec, worker="test", client=client).total == 0:
            return


def _kinds(receiver: Receiver) -> list[str]:
    return [b["event"]["kind"] for b in receiver.bodies()]


def test_an_incident_reaches_the_receiver_signed_and_once(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url)
    inc = _open(db)
    with db.session() as s:
        incident = service.get(session=s, incident_id=inc)
        service.note(session=s, incident=incident, text="rolled back web", actor="ana",
                     at=T0 + timedelta(minutes=5), public=True)
    _drain(db, spec, client)
    _drain(db, spec, client)  # a second pass sends nothing again
    assert _kinds(receiver) == ["incident.opened", "incident.updated"]
    first = receiver.received[0]
    body = first.json()
    assert body["event"]["subject"] == f"[SEV1] {inc}: Checkout down"
    assert body["event"]["refs"]["incident"] == inc
    # The signature covers timestamp.body with the channel's secret.
    expected = hmac.new(SECRET.encode(), first.headers["x-rollgate-timestamp"].encode()
                        + b"." + first.body, hashlib.sha256).hexdigest()
    assert first.headers["x-rollgate-signature"] == f"sha256={expected}"
    assert first.headers["idempotency-key"] == body["idempotency_key"]
    with db.session() as s:
        rows = s.scalars(select(Notification)).all()
        assert {r.state for r in rows} == {"delivered"}
        assert all(SECRET not in str(r.payload) for r in rows)  # the secret is never stored


def test_routes_pick_channels_by_event_environment_severity_and_publicity(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url, routes=[
        {"events": ["incident.opened", "incident.resolved"], "channels": ["ops"],
         "environments": ["production"], "min_severity": "SEV1"},
        {"events": ["incident.updated"], "channels": ["hook"], "public_only": True},
    ])
    bad = _open(db, "SEV1")
    _open(db, "SEV3", title="Slow reports")  # not severe enough for ops
    _open(db, "SEV0", environment="staging", title="Staging down")  # not production
    with db.session() as s:
        incident = service.get(session=s, incident_id=bad)
        service.note(session=s, incident=incident, text="internal: db at 95% cpu",
                     actor="ana", at=T0 + timedelta(minutes=1))
        service.note(session=s, incident=incident, text="We are rolling back",
                     actor="ana", at=T0 + timedelta(minutes=2), public=True)
    _drain(db, spec, client)
    # Two channels: two threads, sent in parallel (in any order).
    by_path = sorted((r.path, r.json()["event"]["kind"], r.json()["event"]["text"])
                     for r in receiver.received)
    assert by_path == [("/", "incident.updated", "We are rolling back"),
                       ("/ops", "incident.opened", by_path[1][2])]
    assert by_path[1][2] != ""  # the opening says what happened
    assert all("internal" not in text for _, _, text in by_path)


def test_a_channel_reached_by_two_routes_gets_an_event_once(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url, routes=[{"events": ["incident.*"], "channels": ["hook"]},
                                           {"events": ["*"], "channels": ["hook"]}])
    _open(db)
    _drain(db, spec, client)
    assert _kinds(receiver) == ["incident.opened"]


def test_a_receiver_down_then_back_gets_every_message_exactly_once(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url, delivery={"max_attempts": 50, "backoff": "1ms",
                                             "max_backoff": "1ms", "timeout": "2s"})
    receiver.stop()
    opened = [_open(db, title=f"Incident {i}") for i in range(5)]
    _drain(db, spec, client, rounds=3)
    with db.session() as s:
        rows = s.scalars(select(Notification)).all()
        assert len(rows) == 5 and {r.state for r in rows} == {"pending"}
        assert all(r.attempts >= 1 and "cannot reach" in (r.last_error or "") for r in rows)
        assert all(receiver.url not in (r.last_error or "") for r in rows)
    receiver.start()
    _drain(db, spec, client)
    got = sorted(b["event"]["refs"]["incident"] for b in receiver.bodies())
    assert got == sorted(opened)  # every one, once
    assert len({r.headers["idempotency-key"] for r in receiver.received}) == 5


def test_after_the_last_attempt_a_message_is_dead_lettered_and_can_be_sent_again(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url)
    receiver.status = 503
    _open(db)
    _drain(db, spec, client)
    assert len(receiver.received) == 3  # max_attempts
    with db.session() as s:
        (row, event), = outbox.listing(session=s, state="failed")
        assert row.state == "dead" and row.attempts == 3
        assert row.last_error == "attempt 3: HTTP 503: ok"
        assert event.kind == "incident.opened"
    receiver.status = 200
    with db.session() as s:
        outbox.resend(session=s, notification_id=row.id, actor="ana")
    _drain(db, spec, client)
    keys = {r.headers["idempotency-key"] for r in receiver.received}
    assert len(receiver.received) == 4 and len(keys) == 1  # the same key on every try
    with db.session() as s:
        assert outbox.listing(session=s, state="failed") == []
        with pytest.raises(RefusedError, match="duplicate"):
            outbox.resend(session=s, notification_id=row.id, actor="ana")


def test_a_refusal_that_retrying_cannot_fix_goes_to_the_dead_letters_at_once(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url)
    receiver.status, receiver.answer = 404, b"no_service"
    _open(db)
    _drain(db, spec, client)
    assert len(receiver.received) == 1
    with db.session() as s:
        (row, _), = outbox.listing(session=s, state="failed")
        assert row.last_error == "attempt 1: HTTP 404: no_service (not worth retrying)"


def test_backoff_doubles_with_jitter_up_to_the_ceiling_and_honours_retry_after() -> None:
    d = Delivery(backoff=10, max_backoff=60)
    rng = random.Random(7)
    waits = [outbox.backoff(d, n, rng=rng) for n in (1, 2, 3, 4, 5)]
    for wait, ceiling in zip(waits, (10, 20, 40, 60, 60), strict=True):
        assert ceiling / 2 <= wait <= ceiling
    spread = {round(outbox.backoff(d, 3, rng=rng), 3) for _ in range(20)}
    assert len(spread) > 10  # jitter: retries of many messages do not line up
    assert outbox.backoff(d, 1, retry_after=45, rng=rng) == 45
    assert outbox.backoff(d, 1, retry_after=4000, rng=rng) == 60


def test_a_failed_attempt_waits_its_backoff_before_the_next(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url, delivery={"max_attempts": 5, "backoff": "1h",
                                             "max_backoff": "2h", "timeout": "2s"})
    receiver.status = 500
    _open(db)
    _drain(db, spec, client)
    assert len(receiver.received) == 1  # the next try is half an hour to an hour away
    with db.session() as s:
        row = s.scalars(select(Notification)).one()
        wait = (row.next_attempt_at - datetime.now(UTC)).total_seconds()
        assert 1700 < wait <= 3600


def test_quiet_hours_hold_low_severities_until_they_end() -> None:
    quiet = QuietHours(start="22:00", end="07:00", timezone="Europe/London", unless="SEV1")
    at = datetime(2025, 1, 6, 23, 30, tzinfo=UTC)
    assert outbox.quiet_until(quiet, at) == datetime(2025, 1, 7, 7, 0, tzinfo=UTC)
    assert outbox.quiet_until(quiet, datetime(2025, 1, 7, 3, 0, tzinfo=UTC)) == \
        datetime(2025, 1, 7, 7, 0, tzinfo=UTC)
    assert outbox.quiet_until(quiet, datetime(2025, 1, 7, 12, 0, tzinfo=UTC)) is None
    summer = datetime(2025, 7, 1, 21, 30, tzinfo=UTC)  # 22:30 in London (BST)
    assert outbox.quiet_until(quiet, summer) == datetime(2025, 7, 2, 6, 0, tzinfo=UTC)


def test_quiet_hours_let_severe_incidents_through(db: Database, receiver: Receiver) -> None:
    spec = make_spec(receiver.url, routes=[{
        "events": ["incident.opened"], "channels": ["hook"],
        "quiet_hours": {"start": "00:00", "end": "23:59", "unless": "SEV1"}}])
    _open(db, "SEV1")
    _open(db, "SEV3", title="Slow reports")
    with db.session() as s:
        outbox.route(s, spec, at=datetime(2025, 1, 6, 12, 0, tzinfo=UTC))
        rows = {e.level: n.next_attempt_at for n, e in outbox.listing(session=s)}
    assert rows["SEV1"] == datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    assert rows["SEV3"] == datetime(2025, 1, 6, 23, 59, tzinfo=UTC)


def test_two_workers_never_send_one_message_twice(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url)
    for i in range(20):
        _open(db, title=f"Incident {i}")
    with db.session() as s:
        outbox.route(s, spec, at=T0)
        assert outbox.route(s, spec, at=T0) == 0  # routed once
    first = outbox.claim(db, worker="a", timeout=2, limit=12)
    second = outbox.claim(db, worker="b", timeout=2, limit=50)
    assert len(first) == 12 and len(second) == 8
    assert not {m.id for m in first} & {m.id for m in second}
    # A claim whose worker died is taken over once its lease ends, and counted as a try.
    with db.session() as s:
        s.execute(update(Notification).values(claimed_until=T0))
    again = outbox.claim(db, worker="c", timeout=2, limit=50)
    assert len(again) == 20 and {m.attempts for m in again} == {2}


def test_an_event_is_written_once_per_key(db: Database) -> None:
    with db.session() as s:
        assert events.emit(s, kind="run.started", key="run:1:running", at=T0,
                           subject="DEPLOYMENT") is not None
        assert events.emit(s, kind="run.started", key="run:1:running", at=T0,
                           subject="DEPLOYMENT") is None
        assert s.scalar(select(func.count()).select_from(NotifyEvent)) == 1


def test_maintenance_is_announced_reminded_started_and_ended_once_each(db: Database) -> None:
    starts = T0 + timedelta(days=10)
    with db.session() as s:
        notice = MaintenanceNotice(environment="production", service=None,
                                   title="Database upgrade", message="Read-only for 1h",
                                   starts_at=starts, ends_at=starts + timedelta(hours=1),
                                   posted_at=T0, posted_by="ana")
        s.add(notice)
        s.flush()
        events.maintenance(s, notice, "maintenance.scheduled", T0)
    leads = [7 * 86400.0, 86400.0]
    seen: list[str] = []
    for at in (T0 + timedelta(days=1), starts - timedelta(days=7), starts - timedelta(days=6),
               starts - timedelta(hours=24), starts - timedelta(hours=1), starts,
               starts + timedelta(minutes=30), starts + timedelta(hours=2),
               starts + timedelta(hours=3)):
        with db.session() as s:
            seen += [e.subject.split(":")[0] for e in maintenance.tick(s, leads, at)]
    assert seen == ["MAINTENANCE IN 7d", "MAINTENANCE IN 1d", "MAINTENANCE STARTED",
                    "MAINTENANCE COMPLETED"]


def test_one_incidents_messages_arrive_in_order_even_after_a_failure(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url, delivery={"max_attempts": 5, "backoff": "1ms",
                                             "max_backoff": "1ms", "timeout": "2s"})
    inc = _open(db)
    other = _open(db, title="Search slow")
    with db.session() as s:
        incident = service.get(session=s, incident_id=inc)
        service.move(session=s, policy=IncidentPolicy(), incident=incident, to="resolved",
                     actor="ana", at=T0 + timedelta(minutes=9))
    receiver.status = 500
    outbox.run_pass(db, spec, worker="test", client=client)
    # One try per thread: the resolution waits behind its incident's failed opening.
    assert sorted(b["event"]["refs"]["incident"] for b in receiver.bodies()) == \
        sorted([inc, other])
    receiver.status = 200
    receiver.received.clear()
    _drain(db, spec, client)
    mine = [b["event"]["kind"] for b in receiver.bodies()
            if b["event"]["refs"]["incident"] == inc]
    assert mine == ["incident.opened", "incident.resolved"]


def test_a_public_only_route_sends_what_the_status_page_shows_and_nothing_internal(
        db: Database, receiver: Receiver, client: httpx.Client) -> None:
    spec = make_spec(receiver.url, routes=[
        {"events": ["incident.*"], "channels": ["ops"], "public_only": True},
        {"events": ["incident.*"], "channels": ["hook"]}])
    with db.session() as s:
        incident = service.open_incident(
            session=s, policy=IncidentPolicy(), title="Checkout down", actor="ana", at=T0,
            level="SEV1", service="web", environment="production",
            summary="Some payments fail")
        service.move(session=s, policy=IncidentPolicy(), incident=incident, to="mitigating",
                     actor="ana", at=T0 + timedelta(minutes=3),
                     note="INTERNAL: failing over db-2")
        service.move(session=s, policy=IncidentPolicy(), incident=incident, to="resolved",
                     actor="ana", at=T0 + timedelta(minutes=9), note="Payments work again",
                     public=True)
    _drain(db, spec, client)
    outside = [r.json()["event"] for r in receiver.received if r.path == "/ops"]
    inside = [r.json()["event"] for r in receiver.received if r.path == "/"]
    assert [(e["kind"], e["text"]) for e in outside] == [
        ("incident.opened", "Some payments fail"), ("incident.updated", ""),
        ("incident.resolved", "Payments work again")]
    assert all({f[0] for f in e["fields"]} <= {"Severity", "Status", "Service", "Environment"}
               and "run" not in e["refs"] for e in outside)
    # The team's own channel hears everything, internal notes and who acted included.
    assert any("INTERNAL: failing over db-2" in e["text"] for e in inside)
    assert any(f[0] == "By" for e in inside for f in e["fields"])
