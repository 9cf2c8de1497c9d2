"""Incidents in the store: what gates and reports read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.tables import Incident

OPEN = ("investigating", "identified", "mitigating")


def open_incidents(*, session: Session, worst: int = 4, service: str | None = None,
                   environment: str | None = None) -> list[Incident]:
    """Open incidents of severity ``worst`` or more severe (SEV0 is 0), most severe first;
    an incident without a service or environment concerns every one."""
    q = select(Incident).where(Incident.status.in_(OPEN), Incident.severity <= worst)
    if service:
        q = q.where((Incident.service == service) | Incident.service.is_(None))
    if environment:
        q = q.where((Incident.environment == environment) | Incident.environment.is_(None))
    return list(session.scalars(q.order_by(Incident.severity, Incident.opened_at)))
