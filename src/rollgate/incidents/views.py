"""Incidents as plain data, the same for the CLI's --json and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from rollgate.incidents import service
from rollgate.store.tables import Incident, IncidentEvent


def incident_dict(row: Incident) -> dict[str, Any]:
    """The incident's own fields."""
    return {"id": row.id, "title": row.title, "level": row.level, "severity": row.severity,
            "status": row.status, "service": row.service, "environment": row.environment,
            "channel": row.channel, "summary": row.summary, "source": row.source,
            "playbook": row.playbook, "run_id": row.run_id, "opened_by": row.opened_by,
            "opened_at": row.opened_at, "started_at": row.started_at,
            "acknowledged_at": row.acknowledged_at, "acknowledged_by": row.acknowledged_by,
            "resolved_at": row.resolved_at, "closed_at": row.closed_at,
            "last_update_at": row.last_update_at, "last_public_at": row.last_public_at,
            "escalation_step": row.escalation_step,
            "postmortem_due_at": row.postmortem_due_at}


def event_dict(row: IncidentEvent) -> dict[str, Any]:
    """One timeline entry."""
    return {"at": row.at, "actor": row.actor, "kind": row.kind, "text": row.text,
            "public": row.public, "detail": row.detail}


def incident_detail(session: Session, row: Incident) -> dict[str, Any]:
    """The incident with its roles, links and timeline."""
    return {**incident_dict(row),
            "roles": service.roles(session=session, incident_id=row.id),
            "links": [{"kind": lk.kind, "ref": lk.ref, "at": lk.at}
                      for lk in service.links(session=session, incident_id=row.id)],
            "timeline": [event_dict(e) for e in service.timeline(session=session,
                                                                  incident_id=row.id)]}
