"""Maintenance notices: announced maintenance periods."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.tables import MaintenanceNotice


def add(*, session: Session, row: MaintenanceNotice) -> MaintenanceNotice:
    """Record a notice."""
    session.add(row)
    session.flush()
    return row


def covering(*, session: Session, environment: str, service: str | None,
             at: datetime) -> list[MaintenanceNotice]:
    """Notices (not cancelled) whose period contains ``at``, for the environment and the
    service (a notice without a service covers every one), earliest posted first."""
    q = select(MaintenanceNotice).where(
        MaintenanceNotice.environment == environment, MaintenanceNotice.cancelled_at.is_(None),
        MaintenanceNotice.starts_at <= at, MaintenanceNotice.ends_at > at)
    if service:
        q = q.where((MaintenanceNotice.service == service)
                    | MaintenanceNotice.service.is_(None))
    return list(session.scalars(q.order_by(MaintenanceNotice.posted_at)))


def listing(*, session: Session, environment: str | None = None, since: datetime | None = None,
            limit: int = 50, offset: int = 0,
            environments: Collection[str] | None = None) -> list[MaintenanceNotice]:
    """Notices, soonest start first; only those ending after ``since`` when given, and of
    ``environments`` (None: all)."""
    q = select(MaintenanceNotice)
    if environment:
        q = q.where(MaintenanceNotice.environment == environment)
    if environments is not None:
        q = q.where(MaintenanceNotice.environment.in_(sorted(environments)))
    if since:
        q = q.where(MaintenanceNotice.ends_at > since)
    return list(session.scalars(q.order_by(MaintenanceNotice.starts_at, MaintenanceNotice.id)
                                .limit(limit).offset(offset)))


def get(*, session: Session, notice_id: int) -> MaintenanceNotice | None:
    """A notice by id."""
    return session.get(MaintenanceNotice, notice_id)
