"""The audit log: who did what, when, to what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.runs import now
from rollgate.store.tables import AuditEvent


def record(*, session: Session, actor: str, action: str, target: str,
           detail: dict[str, Any] | None = None) -> None:
    """Append one audit event."""
    session.add(AuditEvent(at=now(), actor=actor, action=action, target=target,
                           detail=detail or {}))


def events(*, session: Session, limit: int = 100) -> list[AuditEvent]:
    """Audit events, newest first."""
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
