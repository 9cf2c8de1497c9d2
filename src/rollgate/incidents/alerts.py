"""Alertmanager webhooks (payload version 4) into incidents.

One incident per alert group (``groupKey``): the first notification with a firing alert
opens it, later ones add their alerts to it. Each alert is kept by fingerprint, and each
real change of an alert (it fires, it resolves, it fires again with a new ``startsAt``) puts
one entry on the timeline, keyed so that Alertmanager's retries (same body) change nothing
and write nothing twice. When the group resolves, the incident is resolved or only noted,
per ``incidents.alerts.on_resolved``; an alert firing anew in a resolved group reopens it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from rollgate.incidents import lifecycle, service
from rollgate.moments import as_utc
from rollgate.spec.incidents import IncidentPolicy
from rollgate.spec.severity import Level
from rollgate.store.db import Database
from rollgate.store.tables import Incident, IncidentAlert

log = logging.getLogger(__name__)

ACTOR = "alertmanager"
GROUP_KEY_MAX = 255  # Incident.group_key; longer keys are stored as their sha256
NAME_MAX = 64  # Incident.service / Incident.environment
ATTEMPTS = 3  # a concurrent delivery of the same group may win the insert: try again

Outcome = Literal["created", "updated", "unchanged", "ignored"]


def _utc(value: datetime | None) -> datetime | None:
    """A timestamp in UTC; Alertmanager's zero time (year 1) means "not set"."""
    if value is None or value.year <= 1:
        return None
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


class Alert(BaseModel):
    """One alert of a notification."""

    model_config = ConfigDict(extra="allow")  # Alertmanager may add fields

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=64)

    @field_validator("startsAt")
    @classmethod
    def _start_in_utc(cls, value: datetime) -> datetime:
        start = _utc(value)
        if start is None:
            raise ValueError("an alert needs the time it started, not the zero time")
        return start

    @field_validator("endsAt")
    @classmethod
    def _end_in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @property
    def name(self) -> str:
        """The alert's name (its ``alertname`` label)."""
        return self.labels.get("alertname") or self.fingerprint


class AlertmanagerPayload(BaseModel):
    """An Alertmanager webhook notification, version 4."""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str = Field(min_length=1)
    truncatedAlerts: int = Field(0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)


@dataclass(frozen=True)
class IntakeResult:
    """What a notification did."""

    incident_id: str | None
    outcome: Outcome
    status: str | None  # the incident's status afterwards
    new_alerts: int
    changed_alerts: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        """As JSON."""
        return asdict(self)


def stored_group_key(group_key: str) -> str:
    """The group key as the store keeps it: itself, or its sha256 when too long."""
    if len(group_key) <= GROUP_KEY_MAX:
        return group_key
    return "sha256:" + hashlib.sha256(group_key.encode()).hexdigest()


def alert_level(policy: IncidentPolicy, labels: dict[str, str]) -> Level | None:
    """The level the severity label maps to (``alerts.levels``), None when it maps to none."""
    value = labels.get(policy.alerts.severity_label)
    if value is None:
        return None
    mapped = policy.alerts.levels.get(value, policy.alerts.levels.get(value.lower()))
    if mapped is None:
        return None
    levels = policy.severity_policy().levels
    for level in levels:
        if level.name == mapped:
            return level
    return levels[int(mapped)]  # a position; the spec checked it is in range


def environment_of(policy: IncidentPolicy, payload: AlertmanagerPayload) -> str | None:
    """The environment a notification names (its common label, or the one its firing alerts
    agree on), as the incident will have it."""
    firing = [a for a in payload.alerts if a.status == "firing"] or payload.alerts
    return _named(payload, firing, policy.alerts.environment_label, (), "environment")[0]


def receive(db: Database, *, policy: IncidentPolicy, payload: AlertmanagerPayload,
            at: datetime, actor: str = ACTOR, services: Collection[str] = (),
            environments: Collection[str] = ()) -> IntakeResult:
    """Take one notification in its own transaction (see ``ingest``), trying again when a
    concurrent delivery of the same group won a race for the same rows."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with db.session() as s:
                return ingest(session=s, policy=policy, payload=payload, at=at, actor=actor,
                              services=services, environments=environments)
        except (IntegrityError, OperationalError):
            if attempt == ATTEMPTS:
                raise
            log.info("alert group delivery raced another one; trying again (%s)", attempt)
    raise AssertionError("unreachable")


def ingest(*, session: Session, policy: IncidentPolicy, payload: AlertmanagerPayload,
           at: datetime, actor: str = ACTOR, services: Collection[str] = (),
           environments: Collection[str] = ()) -> IntakeResult:
    """Apply a notification: open or find the group's incident, record each alert's
    changes once, resolve or note a resolved group, reopen on a new firing."""
    key = stored_group_key(payload.groupKey)
    incident = session.scalar(select(Incident).where(Incident.group_key == key)
                              .with_for_update())
    created = incident is None
    if incident is None:
        if not any(a.status == "firing" for a in payload.alerts):
            return IntakeResult(None, "ignored", None, 0, 0,
                                "no incident for this alert group and no alert fires: "
                                "nothing to open (a resolved notification of an unknown "
                                "group)")
        incident = _open(session, policy, payload, key, at=at, actor=actor,
                         services=services, environments=environments)
    new = changed = 0
    fired: list[Alert] = []
    resolved = False
    for alert in payload.alerts:
        change = _apply(session, incident, alert, payload, at=at, actor=actor)
        if change is None:
            continue
        new, changed = (new + 1, changed) if change == "new" else (new, changed + 1)
        if alert.status == "firing":
            fired.append(alert)
        else:
            resolved = True
    if payload.truncatedAlerts:
        service.add_event(session, incident, kind="note", actor="rollgate", at=at,
                          text=f"Alertmanager left {payload.truncatedAlerts} alert(s) of this "
                               "group out of the notification (max_alerts)",
                          key=f"truncated:{payload.truncatedAlerts}:{_latest(payload)}")
    notes = []
    if fired and not created:
        notes += _on_fired(session, policy, incident, fired, at=at, actor=actor)
    if resolved and not created and payload.status == "resolved":
        notes += _on_group_resolved(session, policy, incident, at=at, actor=actor)
    return _result(incident, created, new, changed, notes)


def _open(session: Session, policy: IncidentPolicy, payload: AlertmanagerPayload, key: str,
          *, at: datetime, actor: str, services: Collection[str],
          environments: Collection[str]) -> Incident:
    firing = [a for a in payload.alerts if a.status == "firing"]
    rules = policy.alerts
    notes = []
    levels = [lvl for lvl in (alert_level(policy, a.labels) for a in firing) if lvl]
    sev = policy.severity_policy()
    level = min(levels, key=lambda lvl: sev.index(lvl.name)) if levels else None
    if level is None:
        values = sorted({a.labels[rules.severity_label] for a in firing
                         if rules.severity_label in a.labels})
        if values:
            notes.append(f"severity {', '.join(values)} maps to no level "
                         f"(incidents.alerts.levels); opened at the least severe level")
    svc, svc_note = _named(payload, firing, rules.service_label, services, "service")
    env, env_note = _named(payload, firing, rules.environment_label, environments,
                           "environment")
    notes += [n for n in (svc_note, env_note) if n]
    names = sorted({a.name for a in firing})
    title = (payload.commonAnnotations.get("summary", "").strip()
             or ", ".join(names)).strip() or "Alertmanager alert"
    words = " ".join([title, *(_words(n) for n in names)])
    incident = service.open_incident(
        session=session, policy=policy, title=title, actor=actor, at=at,
        level=level.name if level else None, service=svc, environment=env,
        summary=payload.commonAnnotations.get("description") or None, source="alert",
        playbook=service.match_playbook(policy, words), group_key=key,
        started_at=min(a.startsAt for a in payload.alerts))
    for text in notes:
        service.add_event(session, incident, kind="note", actor="rollgate", at=at, text=text,
                          key=f"intake:{hashlib.sha256(text.encode()).hexdigest()[:32]}")
    return incident


def _named(payload: AlertmanagerPayload, firing: list[Alert], label: str,
           known: Collection[str], what: str) -> tuple[str | None, str | None]:
    """The value of a label naming a service or environment: the common one, or the one all
    firing alerts agree on; with a note when the spec does not know it."""
    value = payload.commonLabels.get(label)
    if value is None:
        values = {a.labels[label] for a in firing if label in a.labels}
        value = values.pop() if len(values) == 1 else None
    if value is None:
        return None, None
    if len(value) > NAME_MAX:
        return None, (f"label {label}={value[:80]}… is too long to name a {what} "
                      f"({NAME_MAX} characters at most); the incident has no {what}")
    if known and value not in known:
        return value, (f"label {label}={value} names no {what} of the spec (it has "
                       f"{', '.join(sorted(known))}); kept as given")
    return value, None


def _words(name: str) -> str:
    """``HighEmailBounceRate`` -> ``High Email Bounce Rate``, so playbook keywords match."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")


def _apply(session: Session, incident: Incident, alert: Alert, payload: AlertmanagerPayload,
           *, at: datetime, actor: str) -> Literal["new", "changed"] | None:
    """Record the alert's state when it is news: a new fingerprint, a new occurrence (a
    later ``startsAt``) or the resolution of the current one. A retried or out-of-order
    delivery (an older ``startsAt``, a firing after its resolution) is no news."""
    row = session.get(IncidentAlert, (incident.id, alert.fingerprint))
    ends = alert.endsAt if alert.status == "resolved" else None
    change: Literal["new", "changed"] = "changed"
    if row is None:
        row = IncidentAlert(incident_id=incident.id, fingerprint=alert.fingerprint,
                            name=alert.name[:200], labels=dict(alert.labels))
        session.add(row)
        change = "new"
    elif row.starts_at is not None and alert.startsAt <= row.starts_at:
        same_resolves = (alert.startsAt == row.starts_at and row.status == "firing"
                         and alert.status == "resolved")
        if not same_resolves:
            return None
    row.status, row.starts_at, row.ends_at, row.updated_at = (alert.status, alert.startsAt,
                                                              ends, at)
    summary = alert.annotations.get("summary") or payload.commonAnnotations.get("summary")
    if alert.status == "firing":
        text = f"alert {alert.name} firing since {alert.startsAt:%Y-%m-%d %H:%M:%S} UTC"
    else:
        when = f" at {ends:%Y-%m-%d %H:%M:%S} UTC" if ends else ""
        text = f"alert {alert.name} resolved{when}"
    service.add_event(
        session, incident, kind="alert", actor=actor, at=at,
        text=text + (f": {summary}" if summary else ""),
        detail={"fingerprint": alert.fingerprint, "status": alert.status,
                "labels": alert.labels, "starts_at": alert.startsAt.isoformat(),
                "ends_at": ends.isoformat() if ends else None,
                "generator_url": alert.generatorURL, "receiver": payload.receiver,
                "external_url": payload.externalURL},
        key=f"alert:{alert.fingerprint}:{alert.status}:{alert.startsAt.isoformat()}")
    return change


def _on_fired(session: Session, policy: IncidentPolicy, incident: Incident,
              fired: list[Alert], *, at: datetime, actor: str) -> list[str]:
    """An alert fires anew in a known group: reopen a resolved incident, and raise its level
    when the alert is more severe (never lower it: a person may have raised it)."""
    notes = []
    names = ", ".join(sorted({a.name for a in fired}))
    if incident.status in (lifecycle.RESOLVED, lifecycle.CLOSED):
        service.move(session=session, policy=policy, incident=incident,
                     to=lifecycle.INVESTIGATING, actor=actor, at=at,
                     note=f"reopened: alert {names} fires again")
        notes.append("reopened")
    sev = policy.severity_policy()
    levels = [(lvl, a) for a in fired if (lvl := alert_level(policy, a.labels))]
    if levels:
        level, alert = min(levels, key=lambda pair: sev.index(pair[0].name))
        if sev.index(level.name) < sev.index(service.level_of(policy, incident).name):
            service.set_level(session=session, policy=policy, incident=incident,
                              level=level.name, actor=actor, at=at,
                              reason=f"alert {alert.name} is "
                                     f"{alert.labels[policy.alerts.severity_label]}")
            notes.append(f"level {level.name}")
    return notes


def _on_group_resolved(session: Session, policy: IncidentPolicy, incident: Incident, *,
                       at: datetime, actor: str) -> list[str]:
    """Every alert of the group has resolved: resolve the incident, or only say so."""
    states = session.scalars(select(IncidentAlert.status).where(
        IncidentAlert.incident_id == incident.id)).all()
    if any(s != "resolved" for s in states) or incident.status not in lifecycle.OPEN:
        return []
    if policy.alerts.on_resolved == "resolve":
        service.move(session=session, incident=incident, to=lifecycle.RESOLVED, actor=actor,
                     at=at, note="every alert of the group resolved", policy=policy)
        return ["resolved"]
    service.add_event(session, incident, kind="alerts-resolved", actor="rollgate", at=at,
                      text="every alert of the group resolved; resolve the incident once "
                           f"the impact is over (`rollgate incident resolve {incident.id}`)")
    return ["every alert resolved (noted)"]


def _latest(payload: AlertmanagerPayload) -> str:
    return max(a.startsAt for a in payload.alerts).isoformat()


def _result(incident: Incident, created: bool, new: int, changed: int,
            notes: list[str]) -> IntakeResult:
    outcome: Outcome = "created" if created else "updated" if new or changed else "unchanged"
    if created:
        message = (f"opened {incident.id} ({incident.level}) for {new} alert(s) of the group")
    elif outcome == "unchanged":
        message = f"{incident.id}: nothing new (a repeated or retried notification)"
    else:
        message = f"{incident.id}: {new} new and {changed} changed alert(s)"
    if notes:
        message += "; " + "; ".join(notes)
    return IntakeResult(incident.id, outcome, incident.status, new, changed, message)
