"""Reports over the API: DORA's four keys and incident response times."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from rollgate.api.auth import PrincipalDep
from rollgate.api.common import ProjectDep, RuntimeDep, errors
from rollgate.incidents import dora
from rollgate.store.runs import now

router = APIRouter(prefix="/api", tags=["reports"])


@router.get("/reports/dora", summary="DORA metrics and incident response times",
            responses=errors(400, 401, 403, 422),
            description="Over the period `since` (90d, 12w, 36h or a date) up to now, for "
                        "the production `environment`s (repeat the parameter for several): "
                        "deployment frequency and its DORA band, lead time for changes, "
                        "change failure rate with the failed changes, time to restore, and "
                        "MTTA/MTTR of incidents; durations in seconds, with the counts "
                        "behind every figure. Needs viewer on each environment.")
def dora_report(
    rt: RuntimeDep, project: ProjectDep, principal: PrincipalDep,
    since: Annotated[str, Query(max_length=64, examples=["90d"])] = "90d",
    environment: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """The DORA report."""
    environments = environment or ["production"]
    for name in environments:
        principal.check("viewer", name)
        project.check_environment(name)
    at = now()
    start = dora.parse_since(since, at)
    with rt.db.read() as s:
        return dora.compute(session=s, environments=environments, since=start,
                            at=at).as_dict()
