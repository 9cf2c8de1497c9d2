"""Alertmanager notifications into incidents, on a real store (SQLite or PostgreSQL): one
incident per group, each alert change once on the timeline, retries change nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from rollgate.incidents import alerts, service
from rollgate.incidents.alerts import AlertmanagerPayload, IntakeResult
from rollgate.spec.incidents import IncidentPolicy
from rollgate.store.db import Database
from rollgate.store.tables import AuditEvent, Incident, IncidentAlert, IncidentEvent

T0 = datetime(2025, 1, 4, 14, 30, tzinfo=UTC)
GROUP = '{}/{severity="critical"}:{alertname="HighErrorRate"}'
SERVICES, ENVIRONMENTS = ("web", "api"), ("staging", "production")



def alert(fingerprint: str, status: str = "firing", starts: datetime = T0,
          ends: datetime | None = None, **labels: str) -> dict[str, Any]:
    """One alert as Alertmanager sends it (the zero time while it fires)."""
    labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "web",
              "environment": "production", "instance": f"web-{fingerprint[:4]}", **labels}
    return {"status": status, "labels": labels,
            "annotations": {"summary": f"5xx above 10% on {labels['instance']}"},
            "startsAt": starts.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "endsAt": (ends.isoformat() if ends else "0001-01-01T00:00:00Z"),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=rate5xx",
            "fingerprint": fingerprint}


def notification(*items: dict[str, Any], group: str = GROUP, **extra: Any) -> dict[str, Any]:
    """A version 4 webhook body; the group's status is firing while any alert fires."""
    status = "firing" if any(a["status"] == "firing" for a in items) else "resolved"
    common = {k: v for k, v in items[0]["labels"].items()
              if all(a["labels"].get(k) == v for a in items)}
    return {"receiver": "rollgate", "status": status, "alerts": list(items),
            "groupLabels": {"alertname": common.get("alertname", "")},
            "commonLabels": common,
            "commonAnnotations": {"summary": "Checkout error rate above 10%"},
            "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": group,
            "truncatedAlerts": 0, **extra}


def send(db: Database, body: dict[str, Any], at: datetime = T0,
         policy: IncidentPolicy | None = None) -> IntakeResult:
    """Deliver a notification as the route does."""
    return alerts.receive(db, policy=policy or IncidentPolicy(),
                          payload=AlertmanagerPayload.model_validate(body), at=at,
                          services=SERVICES, environments=ENVIRONMENTS)


def incidents(db: Database) -> list[Incident]:
    """Every incident, oldest first."""
    with db.read() as s:
        return list(s.scalars(select(Incident).order_by(Incident.opened_at)))


def events(db: Database, incident_id: str, kind: str | None = None) -> list[IncidentEvent]:
    """The incident's timeline (of one kind)."""
    with db.read() as s:
        rows = service.timeline(session=s, incident_id=incident_id)
    return [e for e in rows if kind is None or e.kind == kind]


def test_first_firing_opens_one_incident_from_the_labels(db: Database) -> None:
    early = T0 - timedelta(minutes=7)
    result = send(db, notification(alert("a1b2c3d4e5f60718", starts=early)))
    assert (result.outcome, result.new_alerts, result.status) == ("created", 1,
                                                                  "investigating")
    [row] = incidents(db)
    assert result.incident_id == row.id
    assert (row.level, row.severity) == ("SEV0", 0)  # critical -> "0": the most severe
    assert (row.service, row.environment, row.source) == ("web", "production", "alert")
    assert row.title == "Checkout error rate above 10%"
    assert row.started_at == early and row.opened_at == T0
    assert row.group_key == GROUP and row.opened_by == "alertmanager"
    [fired] = events(db, row.id, "alert")
    assert fired.text.startswith("alert HighErrorRate firing since 2025-01-04 14:23:00 UTC")
    assert fired.detail and fired.detail["fingerprint"] == "a1b2c3d4e5f60718"
    assert [e.kind for e in events(db, row.id)][:2] == ["opened", "recommendation"]
    assert "page" in [e.kind for e in events(db, row.id)]


def test_retries_change_nothing_and_the_group_resolves_once(db: Database) -> None:
    firing = notification(alert("a1b2c3d4e5f60718"))
    resolved = notification(alert("a1b2c3d4e5f60718", "resolved",
                                  ends=T0 + timedelta(minutes=20)))
    outcomes = [send(db, firing).outcome,
                send(db, firing, T0 + timedelta(minutes=1)).outcome,
                send(db, resolved, T0 + timedelta(minutes=21)).outcome,
                send(db, resolved, T0 + timedelta(minutes=22)).outcome,
                send(db, firing, T0 + timedelta(minutes=23)).outcome]  # stale, out of order
    assert outcomes == ["created", "unchanged", "updated", "unchanged", "unchanged"]
    [row] = incidents(db)
    assert row.status == "resolved" and row.resolved_at == T0 + timedelta(minutes=21)
    assert [e.text.split(":")[0] for e in events(db, row.id, "alert")] == [
        "alert HighErrorRate firing since 2025-01-04 14", "alert HighErrorRate resolved at "
        "2025-01-04 14"]
    [moved] = events(db, row.id, "status")
    assert moved.text == "investigating → resolved: every alert of the group resolved"
    assert moved.actor == "alertmanager"
    with db.read() as s:
        stored = s.get(IncidentAlert, (row.id, "a1b2c3d4e5f60718"))
        assert stored is not None and stored.status == "resolved"
        assert stored.ends_at == T0 + timedelta(minutes=20)
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "incident.status")) == 1


def test_two_alerts_one_incident_resolved_when_the_last_one_resolves(db: Database) -> None:
    one, two = alert("0000000000000001"), alert("0000000000000002", instance="web-2")
    assert send(db, notification(one, two)).new_alerts == 2
    half = notification(alert("0000000000000001", "resolved", ends=T0 + timedelta(minutes=5)),
                        two)
    assert half["status"] == "firing"
    assert send(db, half, T0 + timedelta(minutes=5)).changed_alerts == 1
    [row] = incidents(db)
    assert row.status == "investigating"
    done = notification(alert("0000000000000001", "resolved", ends=T0 + timedelta(minutes=5)),
                        alert("0000000000000002", "resolved", ends=T0 + timedelta(minutes=9),
                              instance="web-2"))
    result = send(db, done, T0 + timedelta(minutes=9))
    assert (result.outcome, result.changed_alerts, result.status) == ("updated", 1,
                                                                      "resolved")
    assert len(events(db, row.id, "alert")) == 4
    assert len(events(db, row.id, "status")) == 1


def test_another_group_is_another_incident(db: Database) -> None:
    first = send(db, notification(alert("0000000000000001")))
    other = send(db, notification(alert("0000000000000009", alertname="DiskFull"),
                                  group='{}:{alertname="DiskFull"}'))
    assert other.outcome == "created" and other.incident_id != first.incident_id
    assert len(incidents(db)) == 2


def test_a_resolved_notification_of_an_unknown_group_opens_nothing(db: Database) -> None:
    result = send(db, notification(alert("0000000000000001", "resolved", ends=T0)))
    assert (result.outcome, result.incident_id) == ("ignored", None)
    assert "nothing to open" in result.message
    assert incidents(db) == []


def test_a_new_firing_reopens_a_resolved_incident(db: Database) -> None:
    send(db, notification(alert("0000000000000001")))
    send(db, notification(alert("0000000000000001", "resolved", ends=T0 + timedelta(minutes=3))),
         T0 + timedelta(minutes=3))
    again = T0 + timedelta(hours=1)
    result = send(db, notification(alert("0000000000000001", starts=again)), again)
    assert (result.outcome, result.status) == ("updated", "investigating")
    assert "reopened" in result.message
    [row] = incidents(db)
    assert row.status == "investigating" and row.resolved_at is None
    [reopened] = events(db, row.id, "reopened")
    assert reopened.text == ("resolved → investigating: reopened: alert HighErrorRate fires "
                             "again")
    assert len(events(db, row.id, "alert")) == 3


def test_on_resolved_note_leaves_the_incident_to_a_person(db: Database) -> None:
    policy = IncidentPolicy.model_validate({"alerts": {"on_resolved": "note"}})
    send(db, notification(alert("0000000000000001")), policy=policy)
    send(db, notification(alert("0000000000000001", "resolved", ends=T0)),
         T0 + timedelta(minutes=2), policy=policy)
    [row] = incidents(db)
    assert row.status == "investigating"
    [noted] = events(db, row.id, "alerts-resolved")
    assert f"rollgate incident resolve {row.id}" in noted.text


def test_labels_the_spec_does_not_know_are_kept_and_noted(db: Database) -> None:
    send(db, notification(alert("0000000000000001", service="billing-worker",
                                severity="weird")))
    [row] = incidents(db)
    assert row.service == "billing-worker" and row.level == "SEV3"  # unmapped: least severe
    notes = " | ".join(e.text for e in events(db, row.id, "note"))
    assert "label service=billing-worker names no service of the spec" in notes
    assert "severity weird maps to no level" in notes


def test_levels_map_names_and_positions_and_a_worse_alert_raises_the_level(
        db: Database) -> None:
    policy = IncidentPolicy.model_validate({
        "severity": "p0-3", "alerts": {"levels": {"page": "P1", "ticket": "-1"}}})
    send(db, notification(alert("0000000000000001", severity="ticket")), policy=policy)
    [row] = incidents(db)
    assert row.level == "P3"
    both = notification(alert("0000000000000001", severity="ticket"),
                        alert("0000000000000002", severity="page", instance="web-2"))
    result = send(db, both, T0 + timedelta(minutes=4), policy=policy)
    assert "level P1" in result.message
    [raised] = events(db, incidents(db)[0].id, "severity")
    assert raised.text == "level P3 → P1: alert HighErrorRate is page"


def test_a_long_group_key_is_stored_hashed_and_found_again(db: Database) -> None:
    group = "{}:{" + ",".join(f'l{i}="{"x" * 20}"' for i in range(20)) + "}"
    first = send(db, notification(alert("0000000000000001"), group=group))
    second = send(db, notification(alert("0000000000000002"), group=group))
    assert first.incident_id == second.incident_id and second.new_alerts == 1
    assert incidents(db)[0].group_key == alerts.stored_group_key(group)
    assert len(alerts.stored_group_key(group)) == 71


def test_the_alert_name_picks_the_playbook(db: Database) -> None:
    body = notification(alert("0000000000000001", alertname="HighEmailBounceRate"))
    body["commonAnnotations"] = {}
    send(db, body)
    [row] = incidents(db)
    assert (row.title, row.playbook) == ("HighEmailBounceRate", "email-provider")


def test_concurrent_first_deliveries_open_one_incident(db: Database) -> None:
    body = notification(alert("0000000000000001"), alert("0000000000000002", instance="b"))
    start = threading.Barrier(4)
    results: list[IntakeResult] = []

    def deliver() -> None:
        start.wait()
        results.append(send(db, body))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.outcome for r in results) == ["created", "unchanged", "unchanged",
                                                  "unchanged"]
    [row] = incidents(db)
    assert len(events(db, row.id, "alert")) == 2


def test_the_payload_model_takes_version_4_and_names_what_is_wrong() -> None:
    body = notification(alert("0000000000000001"))
    body["alerts"][0]["silenceURL"] = "http://alertmanager:9093/#/silences/new"  # added later
    payload = AlertmanagerPayload.model_validate({**body, "orgId": 1})
    assert payload.alerts[0].endsAt is None  # the zero time
    assert payload.alerts[0].startsAt == T0
    with pytest.raises(ValidationError, match="version"):
        AlertmanagerPayload.model_validate({**body, "version": "3"})
    del body["alerts"][0]["fingerprint"]
    with pytest.raises(ValidationError, match=r"alerts\.0\.fingerprint"):
        AlertmanagerPayload.model_validate(body)
    with pytest.raises(ValidationError, match="alerts"):
        AlertmanagerPayload.model_validate({**body, "alerts": []})
    late = notification(alert("0000000000000001"))
    late["alerts"][0]["startsAt"] = "9999-12-31T23:00:00-05:00"
    with pytest.raises(ValidationError, match="out of range"):
        AlertmanagerPayload.model_validate(late)
