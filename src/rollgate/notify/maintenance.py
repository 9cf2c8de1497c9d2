"""Announced maintenance as it comes: reminders ahead of it (seed 001: 7 days and 24 hours),
its start and its end, each written once as an event by whichever pass sees it first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.notify.events import maintenance
from rollgate.spec.durations import format_duration
from rollgate.store.tables import MaintenanceNotice, NotifyEvent

LATE = timedelta(days=1)  # an end missed for longer than this (a long outage) stays unsaid


def tick(session: Session, leads: Sequence[float], at: datetime) -> list[NotifyEvent]:
    """Write the maintenance events due at ``at``: a reminder at each lead time the notice
    was posted before (a notice posted 2 days ahead gets no 7-day reminder), then started
    while it runs, then ended."""
    horizon = at + timedelta(seconds=max(leads, default=0.0))
    rows = session.scalars(select(MaintenanceNotice).where(
        MaintenanceNotice.cancelled_at.is_(None), MaintenanceNotice.ends_at > at - LATE,
        MaintenanceNotice.starts_at <= horizon).order_by(MaintenanceNotice.starts_at))
    written: list[NotifyEvent | None] = []
    for notice in rows:
        due = [lead for lead in leads
               if notice.posted_at <= notice.starts_at - timedelta(seconds=lead) <= at
               < notice.starts_at]
        if due:  # after downtime, only the nearest reminder: the earlier ones are stale
            lead = format_duration(min(due))
            written.append(maintenance(session, notice, "maintenance.reminder", at,
                                       key_suffix=f":{lead}", lead=lead))
        if notice.starts_at <= at < notice.ends_at:
            written.append(maintenance(session, notice, "maintenance.started", at))
        elif at >= notice.ends_at:
            written.append(maintenance(session, notice, "maintenance.ended", at))
    return [event for event in written if event is not None]
