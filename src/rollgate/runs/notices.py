"""Announced maintenance: post, list and cancel notices (recorded in the audit log)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rollgate.engine.runtime import Runtime
from rollgate.errors import NotFoundError, UsageError
from rollgate.moments import parse_utc
from rollgate.notify import events
from rollgate.runs.service import Project, via_detail
from rollgate.spec.windows import check_zone
from rollgate.store import audit
from rollgate.store import notices as notice_store
from rollgate.store.runs import now
from rollgate.store.tables import MaintenanceNotice


def parse_time(text: str, zone: str, what: str) -> datetime:
    """A UTC datetime from ``2026-12-01 10:00`` (in ``zone``) or an ISO time with offset."""
    try:
        return parse_utc(text.strip(), ZoneInfo(zone))
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a time like 2026-12-01T10:00") from None


def post(rt: Runtime, project: Project, *, environment: str, service: str | None,
         title: str, message: str | None, starts: str, ends: str, timezone: str,
         actor: str, via: str | None = None) -> MaintenanceNotice:
    """Announce maintenance of an environment (or one service there) from now."""
    project.check_target(service, environment)
    try:
        check_zone(timezone)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    start, end = (parse_time(starts, timezone, "--starts"), parse_time(ends, timezone, "--ends"))
    if end <= start:
        raise UsageError(f"--ends ({end:%Y-%m-%d %H:%M %Z}) must come after --starts")
    posted = now()
    if end <= posted:
        raise UsageError("that maintenance is already over: announce one that ends later")
    with rt.db.session() as s:
        row = notice_store.add(session=s, row=MaintenanceNotice(
            environment=environment, service=service, title=title, message=message,
            starts_at=start, ends_at=end, posted_at=posted, posted_by=actor))
        audit.record(session=s, actor=actor, action="notice.posted",
                     target=f"{service or '*'}/{environment}",
                     detail={"notice": row.id, "title": title, "starts": start.isoformat(),
                             "ends": end.isoformat(), **via_detail(via)})
        events.maintenance(s, row, "maintenance.scheduled", posted)
        return row


def cancel(rt: Runtime, notice_id: int, *, actor: str,
           via: str | None = None) -> MaintenanceNotice:
    """Cancel a notice (kept, marked cancelled)."""
    with rt.db.session() as s:
        row = notice_store.get(session=s, notice_id=notice_id)
        if row is None:
            raise NotFoundError(f"no maintenance notice #{notice_id}; `rollgate notice list` "
                                "lists them")
        if row.cancelled_at is None:
            row.cancelled_at = now()
            audit.record(session=s, actor=actor, action="notice.cancelled",
                         target=f"{row.service or '*'}/{row.environment}",
                         detail={"notice": row.id, "title": row.title, **via_detail(via)})
            events.maintenance(s, row, "maintenance.cancelled", row.cancelled_at)
        return row


def notice_dict(row: MaintenanceNotice) -> dict[str, object]:
    """A notice as plain data."""
    return {"id": row.id, "environment": row.environment, "service": row.service,
            "title": row.title, "message": row.message, "starts_at": row.starts_at,
            "ends_at": row.ends_at, "posted_at": row.posted_at, "posted_by": row.posted_by,
            "cancelled_at": row.cancelled_at}
