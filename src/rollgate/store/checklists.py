"""Checklist confirmations: who confirmed which manual item, when and why."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.runs import now
from rollgate.store.tables import ChecklistConfirmation


def confirm(*, session: Session, phase: str, environment: str, service: str | None,
            version: str | None, item: str, actor: str,
            comment: str | None) -> ChecklistConfirmation:
    """Record a confirmation (a later one by someone else is kept too)."""
    row = ChecklistConfirmation(phase=phase, environment=environment, service=service or "",
                                version=version or "", item=item, actor=actor,
                                comment=comment, at=now())
    session.add(row)
    session.flush()
    return row


def confirmations(*, session: Session, phase: str, environment: str, service: str | None,
                  version: str | None) -> dict[str, ChecklistConfirmation]:
    """The latest confirmation of each item for this phase, environment, service and
    version (confirmations without a service or version count for every one)."""
    q = (select(ChecklistConfirmation)
         .where(ChecklistConfirmation.phase == phase,
                ChecklistConfirmation.environment == environment,
                ChecklistConfirmation.service.in_(["", service or ""]),
                ChecklistConfirmation.version.in_(["", version or ""]))
         .order_by(ChecklistConfirmation.at, ChecklistConfirmation.id))
    return {row.item: row for row in session.scalars(q)}
