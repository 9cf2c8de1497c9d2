"""Release gates over the API: checklists (run, confirm) and maintenance notices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from rollgate.api.auth import PrincipalDep
from rollgate.api.common import (
    MAX_OFFSET,
    ActorDep,
    Limit,
    Offset,
    ProjectDep,
    RuntimeDep,
    errors,
    page,
)
from rollgate.runs import checklists, notices
from rollgate.spec.checklists import Phase
from rollgate.store import notices as notice_store
from rollgate.store.runs import now

router = APIRouter(prefix="/api", tags=["gates"])


class ConfirmIn(BaseModel):
    """Manual items of a checklist confirmed by the caller."""

    model_config = ConfigDict(extra="forbid")

    environment: str = Field(min_length=1, max_length=64, examples=["production"])
    service: str | None = Field(None, max_length=64, examples=["web"])
    version: str | None = Field(None, max_length=128, description="the version about to be "
                                "deployed (pre-deploy confirmations are per version)")
    items: list[str] = Field(min_length=1, max_length=50, examples=[["code-review"]])
    comment: str | None = Field(None, max_length=2000, examples=["PR #812, two approvals"])


class NoticeIn(BaseModel):
    """Maintenance to announce."""

    model_config = ConfigDict(extra="forbid")

    environment: str = Field(min_length=1, max_length=64, examples=["production"])
    service: str | None = Field(None, max_length=64)
    title: str = Field(min_length=1, max_length=200, examples=["Database upgrade"])
    message: str | None = Field(None, max_length=5000)
    starts: str = Field(max_length=64, examples=["2026-12-01T10:00"])
    ends: str = Field(max_length=64, examples=["2026-12-01T12:00"])
    timezone: str = Field("UTC", max_length=64, examples=["Africa/Cairo"])


@router.get("/checklists/{phase}", summary="Run a checklist",
            responses=errors(400, 401, 403, 422),
            description="The checklist of a phase for an environment (and a service "
                        "version): automated items run now, manual items with who confirmed "
                        "them. `ok` is false when something blocks (with `strict`, warnings "
                        "too). Needs viewer on the environment.")
def get_checklist(
    phase: Phase, rt: RuntimeDep, project: ProjectDep, principal: PrincipalDep,
    environment: Annotated[str, Query(max_length=64)],
    service: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[str | None, Query(max_length=128)] = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Evaluate a checklist."""
    principal.check("viewer", environment)
    return checklists.evaluate(rt, project, phase=phase, environment=environment,
                               service=service, version=version, strict=strict).as_dict()


@router.post("/checklists/{phase}/confirmations", summary="Confirm checklist items",
             responses=errors(400, 401, 403, 422),
             description="Record that the caller confirms manual items (all or none), with "
                         "an optional comment; returns the checklist without running its "
                         "checks. Needs deployer on the environment.")
def confirm_items(phase: Phase, body: ConfirmIn, rt: RuntimeDep, project: ProjectDep,
                  principal: PrincipalDep, actor: ActorDep) -> dict[str, Any]:
    """Confirm manual items."""
    principal.check("deployer", body.environment)
    checklists.confirm(rt, project, phase=phase, environment=body.environment,
                       service=body.service, version=body.version, items=body.items,
                       actor=actor, comment=body.comment, via=principal.audit_via)
    return checklists.evaluate(rt, project, phase=phase, environment=body.environment,
                               service=body.service, version=body.version,
                               run_checks=False).as_dict()


@router.get("/notices", summary="List maintenance notices", responses=errors(401, 403, 422),
            description="Announced maintenance, soonest first; current and coming ones "
                        "unless `all`. Only environments the caller may view.")
def list_notices(rt: RuntimeDep, principal: PrincipalDep,
                 environment: Annotated[str | None, Query(max_length=64)] = None,
                 all_: Annotated[bool, Query(alias="all")] = False,
                 limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Notices, one page."""
    principal.check_somewhere("viewer")
    if environment is not None:
        principal.check("viewer", environment)
    visible = principal.environments("viewer")
    with rt.db.read() as s:
        rows = notice_store.listing(session=s, environment=environment,
                                    since=None if all_ else now(), limit=limit + 1,
                                    offset=offset, environments=visible)
    return page([notices.notice_dict(r) for r in rows], limit=limit, offset=offset)


@router.post("/notices", status_code=201, summary="Announce maintenance",
             responses=errors(400, 401, 403, 422),
             description="Announce maintenance of an environment (or a service there). A "
                         "major change needs one covering it, posted `policies.major_notice` "
                         "(72 h) before it starts. Needs deployer on the environment.")
def post_notice(body: NoticeIn, rt: RuntimeDep, project: ProjectDep, principal: PrincipalDep,
                actor: ActorDep) -> dict[str, Any]:
    """Post a notice."""
    principal.check("deployer", body.environment)
    row = notices.post(rt, project, environment=body.environment, service=body.service,
                       title=body.title, message=body.message, starts=body.starts,
                       ends=body.ends, timezone=body.timezone, actor=actor,
                       via=principal.audit_via)
    return notices.notice_dict(row)


@router.post("/notices/{notice_id}/cancel", summary="Cancel a maintenance notice",
             responses=errors(401, 403, 404),
             description="Mark a notice cancelled (kept). Needs deployer on its environment.")
def cancel_notice(notice_id: Annotated[int, Path(ge=1, le=MAX_OFFSET)], rt: RuntimeDep,
                  principal: PrincipalDep, actor: ActorDep) -> dict[str, Any]:
    """Cancel a notice."""
    with rt.db.read() as s:
        row = notice_store.get(session=s, notice_id=notice_id)
    if row is not None:
        principal.check("deployer", row.environment)
    return notices.notice_dict(notices.cancel(rt, notice_id, actor=actor,
                                              via=principal.audit_via))
