"""The status page as plain data, in the shape of Atlassian Statuspage's ``summary.json``."""

from __future__ import annotations

from typing import Any

from rollgate.statuspage.summary import Day, Maintenance, PublicIncident, Summary


def incident_dict(incident: PublicIncident) -> dict[str, Any]:
    """An incident with its public updates, newest first."""
    return {"id": incident.id, "name": incident.name, "status": incident.status,
            "impact": incident.impact, "components": list(incident.components),
            "created_at": incident.created_at, "updated_at": incident.updated_at,
            "resolved_at": incident.resolved_at,
            "updates": [{"id": u.id, "status": u.status, "body": u.body, "created_at": u.at}
                        for u in incident.updates]}


def maintenance_dict(notice: Maintenance) -> dict[str, Any]:
    """A maintenance notice."""
    return {"id": notice.id, "name": notice.name, "status": notice.status,
            "impact": "maintenance", "body": notice.message,
            "components": list(notice.components), "scheduled_for": notice.starts_at,
            "scheduled_until": notice.ends_at, "created_at": notice.posted_at}


def day_dict(day: Day) -> dict[str, Any]:
    """One day of history: each component's worst state, and the incidents opened then."""
    return {"date": day.date, "components": dict(day.states),
            "incidents": [incident_dict(i) for i in day.incidents]}


def summary_dict(summary: Summary) -> dict[str, Any]:
    """The whole page: unresolved incidents, maintenance in progress or to come, history."""
    return {
        "page": {"name": summary.title, "environment": summary.environment,
                 "updated_at": summary.updated_at},
        "status": {"indicator": summary.indicator, "description": summary.description},
        "components": [{"id": c.id, "name": c.name, "description": c.description,
                        "status": c.state} for c in summary.components],
        "incidents": [incident_dict(i) for i in summary.active],
        "scheduled_maintenances": [maintenance_dict(m) for m in summary.scheduled],
        "history": [day_dict(d) for d in summary.history],
    }
