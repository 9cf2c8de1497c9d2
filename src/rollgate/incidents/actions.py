"""Action items: the follow-ups of an incident (seed 000 §3.6 and §7.3: created, owned and
scheduled), each one on the incident's timeline and in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.errors import NotFoundError, RefusedError, UsageError
from rollgate.incidents import service
from rollgate.moments import parse_utc
from rollgate.spec.durations import parse_duration
from rollgate.store import audit
from rollgate.store.tables import ActionItem, Incident


def parse_due(text: str, at: datetime) -> datetime:
    """A due time from ``7d``/``36h`` (from ``at``), a date (the end of that day, UTC) or
    an ISO time (UTC unless it carries an offset)."""
    value = text.strip()
    try:
        return at + timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).date()
            return datetime.combine(day, time(23, 59), tzinfo=UTC)
        return parse_utc(value)
    except ValueError:
        raise UsageError(f"due {text!r}: give a duration from now (7d, 36h), a date "
                         "(2025-01-10) or a time (2025-01-10T17:00)") from None


def add(*, session: Session, incident: Incident, title: str, owner: str,
        due: str | datetime | None, actor: str, at: datetime) -> ActionItem:
    """Record a follow-up with its owner and due time."""
    title, owner = title.strip(), owner.strip()
    if not title:
        raise UsageError("an action item needs a title: what will be done, e.g. \"Alert on "
                         "connection pool saturation\"")
    if not owner:
        raise UsageError("an action item needs an owner (--owner NAME)")
    due_at = parse_due(due, at) if isinstance(due, str) else due
    if due_at is not None and due_at <= at:
        raise UsageError(f"due {due_at:%Y-%m-%d %H:%M} UTC is in the past; give a later time")
    row = ActionItem(incident_id=incident.id, title=title[:300], owner=owner[:128],
                     due_at=due_at, created_at=at, created_by=actor)
    session.add(row)
    session.flush()
    when = f", due {due_at:%Y-%m-%d %H:%M} UTC" if due_at else ", no due date"
    service.add_event(session, incident, kind="action", actor=actor, at=at,
                      text=f"action item #{row.id}: {row.title} (owner {owner}{when})",
                      detail={"action_item": row.id, "owner": owner})
    audit.record(session=session, actor=actor, action="incident.action_added",
                 target=incident.id, detail={"item": row.id, "title": row.title,
                                             "owner": owner, "due_at": due_at})
    return row


def get(*, session: Session, item_id: int) -> ActionItem:
    """The action item with this id, or NotFoundError."""
    row = session.get(ActionItem, item_id)
    if row is None:
        raise NotFoundError(f"no action item #{item_id}; `rollgate incident action list` "
                            "lists them")
    return row


def done(*, session: Session, item_id: int, actor: str, at: datetime) -> ActionItem:
    """Mark an action item done (once)."""
    row = get(session=session, item_id=item_id)
    if row.done_at is not None:
        raise RefusedError(f"action item #{row.id} was done already at "
                           f"{row.done_at:%Y-%m-%d %H:%M} UTC")
    row.done_at = at
    incident = service.get(session=session, incident_id=row.incident_id)
    late = ""
    if row.due_at is not None and at > row.due_at:
        late = f" ({(at - row.due_at).total_seconds() / 86400:.1f} d after its due date)"
    service.add_event(session, incident, kind="action", actor=actor, at=at,
                      text=f"action item #{row.id} done: {row.title}{late}",
                      detail={"action_item": row.id, "done": True})
    audit.record(session=session, actor=actor, action="incident.action_done",
                 target=incident.id, detail={"item": row.id, "title": row.title})
    return row


def listing(*, session: Session, incident_id: str | None = None,
            open_only: bool = False) -> list[ActionItem]:
    """Action items of one incident (or of all), soonest due first, undated last."""
    q = select(ActionItem)
    if incident_id is not None:
        q = q.where(ActionItem.incident_id == incident_id)
    if open_only:
        q = q.where(ActionItem.done_at.is_(None))
    rows = list(session.scalars(q.order_by(ActionItem.id)))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.due_at or far, r.id))


def state(row: ActionItem, at: datetime) -> str:
    """done, overdue or open."""
    if row.done_at is not None:
        return "done"
    return "overdue" if row.due_at is not None and row.due_at < at else "open"


def item_dict(row: ActionItem, at: datetime) -> dict[str, Any]:
    """Plain data for --json and the API."""
    return {"id": row.id, "incident_id": row.incident_id, "title": row.title,
            "owner": row.owner, "due_at": row.due_at, "created_at": row.created_at,
            "created_by": row.created_by, "done_at": row.done_at, "state": state(row, at)}
