"""Events people may need to hear of, written in the caller's transaction, once per key.

Each event carries what every channel writes its message from: a one-line ``subject`` in
the seeds' style (``ROLLBACK ALERT: …``, ``[SEV1] …``), a ``text``, labelled ``fields``, and
references (run, incident, notice). Routing to channels happens later, in the worker
(:mod:`rollgate.notify.outbox`): the code that changes things never needs the routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.db import add_unique
from rollgate.store.tables import Incident, IncidentEvent, MaintenanceNotice, NotifyEvent, Run

SUBJECT_MAX = 300


def emit(session: Session, *, kind: str, key: str, at: datetime, subject: str,
         text: str = "", fields: Sequence[tuple[str, str]] = (),
         environment: str | None = None, service: str | None = None,
         level: str | None = None, severity: int | None = None, public: bool = False,
         refs: dict[str, str] | None = None,
         outside: dict[str, Any] | None = None) -> NotifyEvent | None:
    """Write an event unless one with ``key`` exists (a retried step, a second server);
    return it, or None when it was there already. ``outside``: the text, fields and refs a
    public-only route sends instead (none: the event has nothing internal in it)."""
    if session.scalar(select(NotifyEvent.id).where(NotifyEvent.key == key)) is not None:
        return None
    row = NotifyEvent(key=key, kind=kind, at=at, environment=environment, service=service,
                      level=level, severity=severity, public=public,
                      subject=subject[:SUBJECT_MAX],
                      data={"text": text, "fields": [list(f) for f in fields],
                            "refs": refs or {},
                            **({"outside": outside} if outside is not None else {})})
    return row if add_unique(session, row) else None


# --- runs -------------------------------------------------------------------------------

def _run_fields(run: Run) -> list[tuple[str, str]]:
    fields = [("Service", run.service), ("Environment", run.environment),
              ("Version", run.version), ("By", run.actor), ("Run", run.id)]
    if run.from_version:
        fields.insert(3, ("Previous", run.from_version))
    if run.reason:
        fields.append(("Reason", run.reason))
    return fields


def run_changed(session: Session, run: Run, status: str, at: datetime) -> None:
    """A run started or ended: run.started, run.succeeded, run.failed or run.rolled_back."""
    where = f"{run.service} {run.environment}"
    rollback = run.kind == "rollback"
    if status == "running":
        kind = "run.started"
        subject = (f"ROLLBACK: Starting rollback of {where} to {run.version} (User: {run.actor})"
                   if rollback else
                   f"DEPLOYMENT: Starting {run.version} of {where} (User: {run.actor})")
    elif status == "succeeded" and rollback:
        kind, subject = "run.rolled_back", (f"ROLLBACK ALERT: {where} reverted to "
                                            f"{run.version}")
    elif status == "succeeded":
        kind, subject = "run.succeeded", (f"SUCCESS: Deployment {run.version} of {where} "
                                          "completed successfully")
    elif status == "rolled_back":
        kind, subject = "run.rolled_back", (f"ROLLBACK ALERT: {where} reverted to "
                                            f"{run.from_version or 'the previous version'}; "
                                            f"{run.version} was rolled back")
    elif status in ("failed", "cancelled"):
        what = "Rollback" if rollback else "Deployment"
        word = "cancelled" if status == "cancelled" else "failed"
        kind, subject = "run.failed", f"FAILED: {what} {run.version} of {where} {word}"
    else:
        return
    emit(session, kind=kind, key=f"run:{run.id}:{status}", at=at, subject=subject,
         text=run.error or "", fields=_run_fields(run), environment=run.environment,
         service=run.service, refs={"run": run.id, "run_kind": run.kind})


def approval_needed(session: Session, run: Run, seq: int, label: str, at: datetime) -> None:
    """A run waits at an approval step (once per step)."""
    emit(session, kind="approval.needed", key=f"run:{run.id}:approval:{seq}", at=at,
         subject=f"APPROVAL NEEDED: {run.version} of {run.service} {run.environment} "
                 f"({label})",
         text=f"rollgate approve {run.id}", fields=_run_fields(run),
         environment=run.environment, service=run.service,
         refs={"run": run.id, "run_kind": run.kind})


# --- incidents --------------------------------------------------------------------------

_UPDATES = {"status", "reopened", "update", "note", "severity"}


def timeline_entry(session: Session, incident: Incident, entry: IncidentEvent) -> None:
    """An incident's timeline entry that people hear of: opened, status moves, notes and
    public updates, level changes, acknowledgements, reminders and escalations."""
    kind: str | None = None
    public = False
    if entry.kind == "opened":
        kind, public = "incident.opened", True
    elif entry.kind == "status" and (entry.detail or {}).get("to") == "resolved":
        kind, public = "incident.resolved", True
    elif entry.kind in _UPDATES:
        kind, public = "incident.updated", bool(entry.public or entry.kind in
                                                ("status", "reopened"))
    elif entry.kind == "ack":
        kind = "incident.acknowledged"
    elif entry.kind == "escalation":
        kind = "incident.escalation"
    elif entry.kind == "reminder":
        kind = "incident.reminder"
    if kind is None:
        return
    level = incident.level or f"SEV{incident.severity}"
    tag = "RESOLVED" if kind == "incident.resolved" else level
    subject = f"[{tag}] {incident.id}: {incident.title}"
    if kind == "incident.updated":
        subject += f" ({incident.status})"
    elif kind in ("incident.reminder", "incident.escalation", "incident.acknowledged"):
        subject = f"[{level}] {incident.id} {kind.split('.')[1]}: {entry.text}"
    fields = [("Severity", level), ("Status", incident.status)]
    if incident.service:
        fields.append(("Service", incident.service))
    if incident.environment:
        fields.append(("Environment", incident.environment))
    if incident.channel:
        fields.append(("Channel", incident.channel))
    if entry.actor != "rollgate":
        fields.append(("By", entry.actor))
    refs = {"incident": incident.id}
    if incident.run_id:
        refs["run"] = incident.run_id
    detail = entry.detail or {}
    # What customers may read (a route with public_only): what the status page shows.
    outside: dict[str, Any] | None = None
    if public:
        said = (incident.summary or "" if entry.kind == "opened" else
                str(detail.get("note") or "") if entry.kind in ("status", "reopened")
                and entry.public else entry.text if entry.public else "")
        outside = {"text": said, "fields": [list(f) for f in fields
                                            if f[0] in ("Severity", "Status", "Service",
                                                        "Environment")],
                   "refs": {"incident": incident.id}}
    to = detail.get("to") or detail.get("person")
    if to and kind in ("incident.reminder", "incident.escalation"):
        refs["to"] = str(to)
    emit(session, kind=kind, key=f"incident:{incident.id}:{entry.id}", at=entry.at,
         subject=subject, text=entry.text if kind != "incident.opened" else
         (incident.summary or entry.text), fields=fields, environment=incident.environment,
         service=incident.service, level=level, severity=incident.severity, public=public,
         refs=refs, outside=outside)


# --- maintenance ------------------------------------------------------------------------

def maintenance(session: Session, notice: MaintenanceNotice, kind: str, at: datetime,
                key_suffix: str = "", lead: str | None = None) -> NotifyEvent | None:
    """Maintenance announced, coming soon (``lead`` ahead), begun, ended or called off."""
    where = notice.environment + (f" ({notice.service})" if notice.service else "")
    window = (f"{notice.starts_at:%Y-%m-%d %H:%M} to {notice.ends_at:%Y-%m-%d %H:%M} UTC")
    head = {"maintenance.scheduled": "SCHEDULED MAINTENANCE",
            "maintenance.reminder": f"MAINTENANCE IN {lead}" if lead else "MAINTENANCE SOON",
            "maintenance.started": "MAINTENANCE STARTED",
            "maintenance.ended": "MAINTENANCE COMPLETED",
            "maintenance.cancelled": "MAINTENANCE CANCELLED"}[kind]
    return emit(session, kind=kind,
                key=f"maintenance:{notice.id}:{kind.split('.')[1]}{key_suffix}", at=at,
                subject=f"{head}: {notice.title} — {where}, {window}",
                text=notice.message or "", public=True,
                fields=[("Environment", notice.environment), ("Window", window),
                        *([("Service", notice.service)] if notice.service else [])],
                environment=notice.environment, service=notice.service,
                refs={"notice": str(notice.id)})


def data_of(event: NotifyEvent, outside: bool = False) -> dict[str, Any]:
    """The event as channels see it: one plain dict; ``outside``: as customers may read it
    (no internal notes, responders, channels or runs)."""
    data = {key: value for key, value in event.data.items() if key != "outside"}
    if outside:
        data.update(event.data.get("outside") or {})
    return {"key": event.key, "kind": event.kind, "at": event.at.isoformat(),
            "subject": event.subject, "environment": event.environment,
            "service": event.service, "level": event.level, "severity": event.severity,
            "public": event.public, **data}
