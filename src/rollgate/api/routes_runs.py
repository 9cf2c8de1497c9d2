"""Runs: list, show, follow live (SSE), start deploys and rollbacks, cancel, resume."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from rollgate.api.auth import PrincipalDep
from rollgate.api.common import (
    ActorDep,
    Limit,
    Offset,
    Page,
    ProjectDep,
    RuntimeDep,
    errors,
    page,
)
from rollgate.auth.principal import Principal
from rollgate.engine.runtime import Runtime
from rollgate.errors import UsageError
from rollgate.runs import service
from rollgate.runs.commits import deploy_params
from rollgate.runs.views import run_dict, step_dict
from rollgate.store import checks as check_store
from rollgate.store import runs as run_store
from rollgate.store.tables import Run, Step

POLL_SECONDS = 0.3

RunStatus = Literal["pending", "running", "succeeded", "failed", "rolled_back", "cancelled"]

router = APIRouter(prefix="/api", tags=["runs"])


class StepOut(BaseModel):
    """A journaled step of a run."""

    model_config = ConfigDict(extra="allow")

    seq: int = Field(description="position in the run, from 1")
    name: str
    state: str = Field(description="running, succeeded or failed")
    attempts: int = Field(description="how many times the step started (> 1 after a resume)")
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    output: str | None = Field(description="excerpt of what the step did (secrets redacted)")
    error: str | None


class RunOut(BaseModel):
    """A deploy or rollback run."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str = Field(description="deploy or rollback")
    service: str
    environment: str
    version: str = Field(description="the version the run makes live")
    from_version: str | None = Field(description="what was live when the run was created")
    strategy: str
    status: RunStatus
    reason: str | None
    actor: str
    error: str | None
    executor_id: str | None = Field(description="the process driving the run")
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CheckOut(BaseModel):
    """One evaluation of an analysis check: what was observed against what, and the verdict."""

    model_config = ConfigDict(extra="allow")

    seq: int = Field(description="the step that ran the analysis")
    at: datetime
    analysis: str
    name: str
    kind: str = Field(description="threshold, judge or health")
    metric: str
    verdict: str = Field(description="pass, fail or inconclusive")
    observed: float | None
    threshold: float | None
    baseline: float | None = Field(description="the stable version's value, for a judge")
    samples: int | None = Field(description="requests of the canary in the window")
    baseline_samples: int | None
    statistic: str | None
    statistic_value: float | None
    p_value: float | None
    summary: str = Field(description="one readable line, quoted by a rollback's reason")


class RunDetail(RunOut):
    """A run with its steps and its analysis checks."""

    steps: list[StepOut]
    checks: list[CheckOut] = Field(default_factory=list)


class DeployIn(BaseModel):
    """What to deploy where."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=64, examples=["web"])
    environment: str = Field(min_length=1, max_length=64, examples=["production"])
    version: str = Field(min_length=1, max_length=128, examples=["v1.6.0"])
    allow_destructive: bool = Field(
        False, description="let migrations drop or rewrite tables and columns")
    wait_for_window: bool = Field(
        False, description="outside the deploy windows, start a run that waits for the next "
        "opening instead of refusing (409)")
    emergency: bool = Field(
        False, description="override deploy windows and freezes; needs `reason` and the "
        "approver role on the environment; recorded")
    reason: str | None = Field(None, max_length=2000, description="why (required with "
                               "`emergency`)", examples=["checkout down since 14:05"])
    major: bool = Field(False, description="a major change: needs announced maintenance "
                        "covering now, posted `policies.major_notice` (72 h) before it")
    commit: str | None = Field(None, max_length=64, description="the commit sha the version "
                               "was built from (recorded with a new release)",
                               examples=["9fceb02d0ae598e95dc970b74767f19372d61af8"])
    committed_at: str | None = Field(None, max_length=64, description="when that commit was "
                                     "made (ISO 8601): DORA's lead time starts there",
                                     examples=["2025-01-04T09:12:00Z"])


class ApproveIn(BaseModel):
    """An optional comment recorded with the approval."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(None, max_length=2000, examples=["canary looks good"])


class RejectIn(BaseModel):
    """Why the run is rejected (recorded)."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=2000, examples=["no rollback plan"])


class RollbackIn(BaseModel):
    """What to roll back, to which version, and why."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=64, examples=["web"])
    environment: str = Field(min_length=1, max_length=64, examples=["production"])
    to: str | None = Field(None, max_length=128,
                           description="version to roll back to; null: the previous live one")
    reason: str | None = Field(None, max_length=2000, description="why (recorded; some "
                               "environments require it)", examples=["5xx spike after v1.6.0"])
    scope: Literal["app", "db", "full"] = Field(
        "app", description="app only (data untouched), db only (restore a backup), or full")
    backup_id: str | None = Field(None, max_length=64, description="backup to restore (db, "
                                  "full); full defaults to the live release's rollback point")
    latest_backup: bool = Field(False, description="restore the newest backup (db, full)")


def _load(rt: Runtime, run_id: str) -> tuple[Run, list[Step]]:
    # The run is read before its steps: once it reads terminal, the steps are final too.
    with rt.db.read() as s:
        run = run_store.get_run(session=s, run_id=run_id)
        return run, run_store.list_steps(session=s, run_id=run_id)


def _allowed_run(rt: Runtime, run_id: str, principal: Principal, role: str) -> Run:
    """The run, once the principal is known to hold ``role`` on its environment."""
    with rt.db.read() as s:
        run = run_store.get_run(session=s, run_id=run_id)
    principal.check(role, run.environment)
    return run


def _run_out(rt: Runtime, run_id: str, viewer: Principal | None = None) -> dict[str, Any]:
    """The run with its steps and checks, in one transaction; with ``viewer``, only once
    that principal may view the run's environment."""
    with rt.db.read() as s:
        run = run_store.get_run(session=s, run_id=run_id)
        if viewer is not None:
            viewer.check("viewer", run.environment)
        # The run is read before its steps: once it reads terminal, the steps are final.
        steps = run_store.list_steps(session=s, run_id=run_id)
        return run_dict(run, steps, check_store.for_run(session=s, run_id=run_id))


@router.get("/runs", response_model=Page[RunOut], summary="List runs",
            responses=errors(401, 403, 422),
            description="Runs, newest first, optionally filtered; paginated with "
                        "`limit`/`offset` (follow `next_offset`). Only runs of environments "
                        "the caller may view (viewer) are listed.")
def list_runs(
    rt: RuntimeDep,
    principal: PrincipalDep,
    service_name: Annotated[str | None, Query(alias="service", description="only this service")
                            ] = None,
    environment: Annotated[str | None, Query(description="only this environment")] = None,
    status: Annotated[RunStatus | None, Query(description="only runs in this state")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """List runs, newest first."""
    principal.check_somewhere("viewer")
    if environment is not None:
        principal.check("viewer", environment)
    with rt.db.read() as s:
        rows = run_store.list_runs(session=s, service=service_name, environment=environment,
                                   status=status, limit=limit + 1, offset=offset,
                                   environments=principal.environments("viewer"))
    return page([run_dict(r) for r in rows], limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunDetail, summary="Show a run",
            responses=errors(401, 403, 404),
            description="A run with its steps: state, attempts, timings, output and errors. "
                        "Needs viewer on the run's environment.")
def get_run(run_id: str, rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Show a run with its steps."""
    return _run_out(rt, run_id, viewer=principal)


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunDetail,
             summary="Cancel a run", responses=errors(401, 403, 404, 409),
             description="Ask a run to stop: it discards or rolls back what it started, then "
                         "ends `cancelled`. Follow it with `GET /api/runs/{id}/events`. Needs "
                         "deployer on the run's environment.")
def cancel_run(run_id: str, rt: RuntimeDep, principal: PrincipalDep,
               actor: ActorDep) -> dict[str, Any]:
    """Ask a run to stop."""
    _allowed_run(rt, run_id, principal, "deployer")
    service.cancel(rt, run_id, actor, via=principal.audit_via)
    return _run_out(rt, run_id)


@router.post("/runs/{run_id}/resume", status_code=202, response_model=RunDetail,
             summary="Resume an interrupted run", responses=errors(401, 403, 404, 409),
             description="Continue a run whose process died from the interrupted step, in "
                         "this server. Refused (409) when it ended or is still driven. Needs "
                         "deployer on the run's environment.")
def resume_run(run_id: str, rt: RuntimeDep, principal: PrincipalDep,
               actor: ActorDep) -> dict[str, Any]:
    """Resume a run whose process died."""
    _allowed_run(rt, run_id, principal, "deployer")
    service.resume(rt, run_id, actor, via=principal.audit_via)
    return _run_out(rt, run_id)


@router.post("/runs/{run_id}/approve", status_code=202, response_model=RunDetail,
             summary="Approve a run waiting at an approval step",
             responses=errors(401, 403, 404, 409, 422),
             description="Let a run paused at `pause: approval` go on (what `rollgate approve "
                         "RUN` does). Refused (409) when the run is not waiting for an "
                         "approval. Needs approver on the run's environment.")
def approve_run(run_id: str, rt: RuntimeDep, principal: PrincipalDep, actor: ActorDep,
                body: ApproveIn | None = None) -> dict[str, Any]:
    """Approve a waiting run."""
    _allowed_run(rt, run_id, principal, "approver")
    service.approve(rt, run_id, actor, body.comment if body else None,
                    via=principal.audit_via)
    return _run_out(rt, run_id)


@router.post("/runs/{run_id}/reject", status_code=202, response_model=RunDetail,
             summary="Reject a run waiting at an approval step",
             responses=errors(401, 403, 404, 409, 422),
             description="Make a run waiting for approval fail before it touches anything "
                         "(what `rollgate reject RUN` does); the comment is recorded. Needs "
                         "approver on the run's environment; refused (409) for your own "
                         "deploy where the environment requires approvals from others.")
def reject_run(run_id: str, body: RejectIn, rt: RuntimeDep, principal: PrincipalDep,
               actor: ActorDep) -> dict[str, Any]:
    """Reject a waiting run."""
    _allowed_run(rt, run_id, principal, "approver")
    service.approve(rt, run_id, actor, body.comment, via=principal.audit_via, reject=True)
    return _run_out(rt, run_id)


@router.post("/deploys", status_code=202, response_model=RunDetail, summary="Deploy a version",
             responses=errors(400, 401, 403, 409, 422),
             description="Start a deploy run with the environment's strategy and return it at "
                         "once; the server drives it. 409 while another run holds the target. "
                         "Needs deployer on the environment.")
def create_deploy(body: DeployIn, response: Response, rt: RuntimeDep, project: ProjectDep,
                  principal: PrincipalDep, actor: ActorDep) -> dict[str, Any]:
    """Start a deploy run."""
    principal.check("approver" if body.emergency else "deployer", body.environment)
    if body.emergency and not (body.reason or "").strip():
        raise UsageError("an emergency deploy needs a reason: what is on fire")
    run_id = service.deploy(rt, project, service=body.service, environment=body.environment,
                            version=body.version, actor=actor,
                            allow_destructive=body.allow_destructive, via=principal.audit_via,
                            emergency=body.reason if body.emergency else None,
                            wait_window=body.wait_for_window, major=body.major,
                            extra=deploy_params(body.commit, body.committed_at) or None)
    response.headers["Location"] = f"/api/runs/{run_id}"
    return _run_out(rt, run_id)


class PromotionIn(BaseModel):
    """Which release goes from which environment to which."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    service: str = Field(min_length=1, max_length=64, examples=["web"])
    source: str = Field(alias="from", min_length=1, max_length=64, examples=["staging"])
    dest: str = Field(alias="to", min_length=1, max_length=64, examples=["production"])
    version: str | None = Field(None, max_length=128, description="the release; null: the "
                                "one live in `from`")
    wait_for_window: bool = Field(False, description="wait for the deploy window")
    emergency: bool = Field(False, description="promote even a release that did not pass "
                            "`from` and override windows and freezes; needs `reason` and "
                            "approver on `to`")
    reason: str | None = Field(None, max_length=2000, description="why (with `emergency`)")
    major: bool = Field(False, description="a major change (needs announced maintenance)")


class PromotionOut(RunDetail):
    """The promotion's deploy run, with the release notes written for it."""

    release_notes: str


@router.post("/promotions", status_code=202, response_model=PromotionOut,
             summary="Promote a release", responses=errors(400, 401, 403, 404, 409, 422),
             description="Deploy to `to` exactly the release that passed `from` (a successful "
                         "deploy there); refused (409) for one that did not, unless an "
                         "emergency. Release notes come from git; the run tags the release "
                         "once live when the spec says so. Needs deployer on `to`.")
def create_promotion(body: PromotionIn, response: Response, rt: RuntimeDep,
                     project: ProjectDep, principal: PrincipalDep,
                     actor: ActorDep) -> dict[str, Any]:
    """Start a promotion."""
    from rollgate.runs.promotion import promote

    principal.check("approver" if body.emergency else "deployer", body.dest)
    principal.check("viewer", body.source)
    if body.emergency and not (body.reason or "").strip():
        raise UsageError("an emergency promotion needs a reason")
    started = promote(rt, project, service=body.service, source=body.source, dest=body.dest,
                      version=body.version, actor=actor,
                      emergency=body.reason if body.emergency else None,
                      wait_window=body.wait_for_window, via=principal.audit_via,
                      major=body.major)
    response.headers["Location"] = f"/api/runs/{started.run_id}"
    return {**_run_out(rt, started.run_id), "release_notes": started.notes}


@router.post("/rollbacks", status_code=202, response_model=RunDetail,
             summary="Roll back to an earlier version",
             responses=errors(400, 401, 403, 404, 409, 422),
             description="Start a rollback run to `to` (default: the version live before the "
                         "current one) and return it at once; the server drives it. `scope` db "
                         "or full also restores a backup behind maintenance mode. Needs deployer "
                         "on the environment.")
def create_rollback(body: RollbackIn, response: Response, rt: RuntimeDep,
                    project: ProjectDep, principal: PrincipalDep,
                    actor: ActorDep) -> dict[str, Any]:
    """Start a rollback run."""
    principal.check("deployer", body.environment)
    run_id = service.rollback(rt, project, service=body.service, environment=body.environment,
                              to=body.to, reason=body.reason, actor=actor, scope=body.scope,
                              backup_id=body.backup_id, latest_backup=body.latest_backup,
                              via=principal.audit_via)
    response.headers["Location"] = f"/api/runs/{run_id}"
    return _run_out(rt, run_id)


@router.get(
    "/runs/{run_id}/events", summary="Follow a run live (Server-Sent Events)",
    response_class=EventSourceResponse,
    description="A stream of `step` events (a step appeared or changed state or attempts; "
                "data: the step) and `run` events (the run's status changed; data: the run). "
                "It ends after the `run` event of a terminal status. Needs viewer on the run's "
                "environment.",
    responses={200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
               **errors(401, 403, 404)},
)
async def run_events(run_id: str, rt: RuntimeDep, principal: PrincipalDep
                     ) -> EventSourceResponse:
    """Stream a run's progress until it ends."""
    # An unknown run is a 404, not an empty stream; a hidden one a 403.
    await run_in_threadpool(_allowed_run, rt, run_id, principal, "viewer")
    # On server shutdown the stream ends cleanly; an EventSource client reconnects.
    stopping = anyio.Event()
    return EventSourceResponse(_events(rt, run_id, stopping), ping=15, shutdown_event=stopping,
                               shutdown_grace_period=2 * POLL_SECONDS)


async def _events(rt: Runtime, run_id: str, stopping: anyio.Event
                  ) -> AsyncIterator[ServerSentEvent]:
    seen: dict[int, tuple[str, int]] = {}
    status: str | None = None
    n = 0

    def event(kind: str, data: str) -> ServerSentEvent:
        nonlocal n
        n += 1
        return ServerSentEvent(data=data, event=kind, id=str(n))

    while True:
        run, steps = await anyio.to_thread.run_sync(_load, rt, run_id)
        done = run.status in run_store.TERMINAL
        run_json = RunOut.model_validate(run_dict(run)).model_dump_json()
        if run.status != status and not done:
            yield event("run", run_json)  # a new status comes before the steps it starts
        for step in steps:
            if seen.get(step.seq) != (step.state, step.attempts):
                seen[step.seq] = (step.state, step.attempts)
                yield event("step", StepOut.model_validate(step_dict(step)).model_dump_json())
        if done:
            yield event("run", run_json)  # the terminal status comes last
            return
        status = run.status
        with anyio.move_on_after(POLL_SECONDS):
            await stopping.wait()
        if stopping.is_set():
            return
