"""The durable run workflow (DBOS): plan, strategy steps, then discard or roll back on failure."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from dbos import DBOS

import rollgate.engine.analyze  # registers the analyze action
import rollgate.engine.data_actions  # registers the database actions
import rollgate.engine.gate_actions  # registers the gate actions  # noqa: F401
from rollgate.engine.actions import ACTIONS, ActionContext, target_for
from rollgate.engine.context import current
from rollgate.errors import RollgateError
from rollgate.notify.events import approval_needed
from rollgate.redact import excerpt, redact, secret_values
from rollgate.spec.models import Spec
from rollgate.store import runs as run_store
from rollgate.strategies import drive
from rollgate.strategies.base import APPROVAL_STEP, Pipeline, Plan, StepFailed
from rollgate.strategies.data import DataFailure

log = logging.getLogger(__name__)


@DBOS.step(name="rollgate.plan")
def plan_step(run_id: str) -> dict[str, Any]:
    """Step 1: claim the run, read what is live, and fix the plan for the whole run."""
    rt = current()
    with rt.db.session() as s:
        run_store.transition(session=s, run_id=run_id, to=run_store.RUNNING,
                             executor_id=rt.executor_id)
        run_store.step_started(session=s, run_id=run_id, seq=1, name="plan")
    ctx = _context(run_id)
    try:
        found = ACTIONS["prepare"](ctx)
    except RollgateError as exc:
        _finish_step(run_id, 1, ctx, error=exc.message)
        return {"ok": False, "error": exc.message}
    run, spec = ctx.run, ctx.spec
    plan = Plan.build(spec, run_id=run_id, kind=run.kind, service=run.service,
                      environment=run.environment, version=run.version, live=found["live"],
                      live_instances=found["live_instances"], params=run.params,
                      requester=run.actor)
    ctx.say(f"strategy {run.strategy}, {plan.replicas} replica(s), "
            f"{len(plan.checks)} post-deploy check(s)")
    _finish_step(run_id, 1, ctx)
    return {"ok": True, "plan": asdict(plan)}


def _context(run_id: str, cleanup: bool = False) -> ActionContext:
    rt = current()
    with rt.db.session() as s:
        run = run_store.get_run(session=s, run_id=run_id)
    spec = Spec.model_validate(run.spec)
    return ActionContext(db=rt.db, run=run, spec=spec,
                         target=target_for(rt.db, run, spec, rt.state_dir), cleanup=cleanup)


def _finish_step(run_id: str, seq: int, ctx: ActionContext, error: str | None = None
                 ) -> str | None:
    """Record the end of a step with secrets masked; return the masked error."""
    try:
        secrets = secret_values(ctx.target.service_env())
    except RollgateError:  # an unset ${NAME}: mask the literal values only
        secrets = secret_values({k: v for k, v in ctx.target.svc.env.items() if "${" not in v})
    output = redact(excerpt("\n".join(ctx.lines)), secrets) if ctx.lines else None
    masked = redact(error, secrets) if error else None
    with ctx.db.session() as s:
        run_store.step_finished(
            session=s, run_id=run_id, seq=seq, state="failed" if error else "succeeded",
            output=output, error=masked,
        )
    return masked


@DBOS.step(name="rollgate.step")
def run_step(run_id: str, seq: int, name: str, action: str, kwargs: dict[str, Any],
             cleanup: bool) -> dict[str, Any]:
    """Run one action as a journaled step; failures come back as values, not exceptions.

    Cleanup steps (discarding or rolling back after a failure or a cancel) run even when a
    cancel was asked for.
    """
    rt = current()
    ctx = _context(run_id, cleanup)
    ctx.seq = seq
    if action == "release":
        if kwargs.get("note"):
            ctx.say(str(kwargs["note"]))
        _finish_step(run_id, seq, ctx, error=kwargs.get("error"))
        return {"ok": True}
    with rt.db.session() as s:
        run_store.claim(session=s, run_id=run_id, executor_id=rt.executor_id)
        run_store.step_started(session=s, run_id=run_id, seq=seq, name=name)
        if action == "hold" and name.startswith(APPROVAL_STEP):
            approval_needed(s, run_store.get_run(session=s, run_id=run_id), seq, name,
                            run_store.now())
    if action == "hold":
        return {"ok": True}
    if ctx.cancel_requested():
        _finish_step(run_id, seq, ctx, error="cancelled before this step")
        return {"ok": False, "error": "cancelled", "cancelled": True}
    try:
        data = ACTIONS[action](ctx, **kwargs)
    except RollgateError as exc:
        if exc.details:
            ctx.say(exc.details)
        masked = _finish_step(run_id, seq, ctx, error=exc.message)
        # The engine journals this value too: only the masked error leaves the step.
        return {"ok": False, "error": masked, "cancelled": ctx.cancel_requested()}
    except Exception as exc:  # a bug or an unexpected failure must still end the run cleanly
        log.exception("step %s of %s crashed", name, run_id)
        masked = _finish_step(run_id, seq, ctx, error=f"internal error: {exc!r}")
        return {"ok": False, "error": masked}
    _finish_step(run_id, seq, ctx)
    return {"ok": True, **data}


@DBOS.step(name="rollgate.finish")
def finish_step(run_id: str, status: str, error: str | None,
                record: dict[str, Any] | None = None) -> str:
    """Record the run's end state and free its lock; a rollback also leaves a record."""
    from rollgate.incidents.auto import open_for_rollback
    from rollgate.runs.records import write_rollback_record
    from rollgate.store import audit

    rt = current()
    if record is None and status == run_store.ROLLED_BACK:
        record = {"scope": "app", "trigger": "auto", "backup_id": None}
    with rt.db.session() as s:
        run = run_store.transition(session=s, run_id=run_id, to=status, error=error)
        audit.record(session=s, actor=run.actor, action=f"run.{status}",
                     target=f"{run.service}/{run.environment}",
                     detail={"run": run_id, "kind": run.kind, "version": run.version,
                             "error": error})
        if record is not None and record["trigger"] == "auto":
            # In the run's own transaction: the run never ends without its incident.
            open_for_rollback(session=s, run=run, scope=str(record["scope"]))
        if record is not None:
            write_rollback_record(s, rt.state_dir, run, **record)
    return status


@DBOS.workflow(name="rollgate.run")
def run_workflow(run_id: str) -> str:
    """Drive a run to its end; on failure discard the new version or roll back to the old."""
    first = plan_step(run_id)
    if not first["ok"]:
        return str(finish_step(run_id, run_store.FAILED, first["error"]))
    plan = Plan(**first["plan"])
    pipe = Pipeline(
        plan,
        runner=lambda seq, name, act, kw: run_step(run_id, seq, name, act, kw, pipe.cleanup),
        sleeper=DBOS.sleep,
        receiver=lambda topic, timeout: DBOS.recv(topic, timeout_seconds=timeout),
    )
    scope = str(plan.params.get("scope") or "app")
    try:
        drive(pipe)
    except DataFailure as failure:
        record: dict[str, Any] | None = {"scope": "db", "trigger": "auto",
                                          "backup_id": pipe.backup_id}
        if plan.kind == "rollback":
            record = _record(plan, scope)
        elif not failure.undone:
            record = None
        return str(finish_step(run_id, run_store.FAILED, failure.reason, record))
    except StepFailed as failure:
        return str(_recover(pipe, failure))
    done = _record(plan, scope) if plan.kind == "rollback" else None
    return str(finish_step(run_id, run_store.SUCCEEDED, None, done))


def _record(plan: Plan, scope: str) -> dict[str, Any]:
    """What a rollback record says of an asked-for rollback."""
    return {"scope": scope, "trigger": "manual", "backup_id": plan.params.get("backup_id")}


def _recover(pipe: Pipeline, failure: StepFailed) -> str:
    plan = pipe.plan
    reason = f"{failure.step} failed: {failure.error}"
    if failure.cancelled:
        reason = f"cancelled during {failure.step}"
    if pipe.migrated:
        reason += (f"; database {plan.database} stays migrated (restore point {pipe.backup_id}: "
                   f"`rollgate rollback {plan.service} --env {plan.environment} --db-only "
                   f"--backup-id {pipe.backup_id}`)")
    record = (_record(plan, str(plan.params.get("scope") or "app"))
              if plan.kind == "rollback" else None)
    pipe.cleanup = True
    restore = pipe.touched and plan.live is not None and (plan.auto_rollback or failure.cancelled)
    try:
        if restore and not pipe.live_stopped:
            # The live version still runs (canary, blue-green): all traffic back at once.
            assert plan.live is not None
            pipe.route(f"rollback: {plan.version} to 0%, {plan.live} to 100%",
                       {plan.live: (plan.live_instances, 100)})
        elif restore:
            assert plan.live is not None
            prior = pipe.start(plan.live, list(range(plan.replicas)),
                               f"rollback: start {plan.live}")
            pipe.ready(plan.live, prior, f"rollback: health-check {plan.live}")
            pipe.route(f"rollback: traffic to {plan.live}", {plan.live: (prior, 100)})
        elif pipe.touched and plan.live is None:
            pipe.route("drain traffic", {})
        new = [i for i in pipe.started if i not in plan.live_instances]
        pipe.stop(f"{'rollback: ' if restore else ''}stop {plan.version}", new)
    except StepFailed as second:
        error = f"{reason}; then {second.step} failed too: {second.error}"
        return str(finish_step(plan.run_id, run_store.FAILED, error, record))
    if failure.cancelled:
        return str(finish_step(plan.run_id, run_store.CANCELLED, reason, record))
    if restore:
        return str(finish_step(plan.run_id, run_store.ROLLED_BACK,
                               f"{reason}; rolled back to {plan.live}", record))
    if pipe.touched:
        return str(finish_step(plan.run_id, run_store.FAILED, reason, record))
    left = f"; traffic stays on {plan.live}" if plan.live else ""
    return str(finish_step(plan.run_id, run_store.FAILED, reason + left, record))
