"""Incidents rollgate opens by itself: an automatic rollback (traffic back to the live
version, or a database restored after a failed migration) is an incident already mitigated.
Seed 001: "If SEV-1/2 triggered, rollback to previous deployment and open incident"."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.incidents import lifecycle, service
from rollgate.spec.models import Spec
from rollgate.store.runs import now
from rollgate.store.tables import Incident, Run


def open_for_rollback(*, session: Session, run: Run, scope: str) -> Incident | None:
    """Open (once per run) the incident of a run that rollgate rolled back on its own,
    linked to the run, when the run's spec asks for it (``incidents.on_rollback``)."""
    policy = Spec.model_validate(run.spec).incidents
    wanted = policy.on_rollback
    if not wanted.open or (wanted.environments is not None
                           and run.environment not in wanted.environments):
        return None
    found = session.scalar(select(Incident).where(Incident.run_id == run.id,
                                                  Incident.source == "rollback"))
    if found is not None:
        return found  # a retried finish step
    what = ("database restored" if scope == "db" else
            f"rolled back to {run.from_version}" if run.from_version else "rolled back")
    at = now()
    incident = service.open_incident(
        session=session, policy=policy, actor="rollgate", at=at,
        title=f"{run.service} {run.version} {what} automatically in {run.environment}",
        level=wanted.level or policy.severity_policy().levels[-1].name,
        service=run.service, environment=run.environment, summary=run.error,
        source="rollback", run_id=run.id, status=lifecycle.MITIGATING,
        started_at=run.started_at or run.created_at)
    service.add_event(session, incident, kind="rollback", actor="rollgate", at=at,
                      text=f"run {run.id} ({run.kind} of {run.version}) ended "
                           f"{run.status}: {run.error}",
                      detail={"run": run.id, "scope": scope}, key=f"rollback:{run.id}")
    return incident
