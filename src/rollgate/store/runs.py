"""Runs, their steps and the one-run-per-target lock; every run state change goes through here."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from rollgate.errors import LockedError, NotFoundError, RollgateError
from rollgate.store.db import add_unique
from rollgate.store.tables import Run, RunLock, Step

PENDING, RUNNING = "pending", "running"
SUCCEEDED, FAILED, ROLLED_BACK, CANCELLED = "succeeded", "failed", "rolled_back", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, ROLLED_BACK, CANCELLED})
STEP_NAME_MAX = 128  # steps.name

# Allowed transitions: to-state -> from-states.
_TRANSITIONS: dict[str, frozenset[str]] = {
    RUNNING: frozenset({PENDING, RUNNING}),
    SUCCEEDED: frozenset({RUNNING}),
    FAILED: frozenset({PENDING, RUNNING}),
    ROLLED_BACK: frozenset({RUNNING}),
    CANCELLED: frozenset({PENDING, RUNNING}),
}


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def new_run_id() -> str:
    """A readable, time-sortable run id such as ``run-20250104-143000-9f2c``."""
    return f"run-{now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def create_run(
    *,
    session: Session,
    kind: str,
    service: str,
    environment: str,
    version: str,
    from_version: str | None,
    strategy: str,
    actor: str,
    reason: str | None,
    spec: dict[str, Any],
    spec_dir: str,
    params: dict[str, Any] | None = None,
) -> Run:
    """Create a pending run holding the service+environment lock, or raise LockedError."""
    run = Run(
        id=new_run_id(),
        kind=kind,
        service=service,
        environment=environment,
        version=version,
        from_version=from_version,
        strategy=strategy,
        status=PENDING,
        reason=reason,
        actor=actor,
        spec=spec,
        spec_dir=spec_dir,
        params=params,
        cancel_requested=False,
        created_at=now(),
    )
    if not add_unique(session, RunLock(service=service, environment=environment,
                                       run_id=run.id, acquired_at=now())):
        holder = session.get(RunLock, (service, environment))
        active = holder.run_id if holder else "unknown"
        raise LockedError(
            f"{service} in {environment} is busy: run {active} is active. "
            f"Wait for it (--wait), watch it with `rollgate runs show {active}`, "
            f"or stop it with `rollgate cancel {active}`.",
            run_id=active,
        )
    session.add(run)
    return run


def active_run_id(*, session: Session, service: str, environment: str) -> str | None:
    """The run holding the lock of service+environment, if any."""
    lock = session.get(RunLock, (service, environment))
    return lock.run_id if lock else None


def get_run(*, session: Session, run_id: str) -> Run:
    """The run with this id, or NotFoundError."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id!r}; `rollgate history` lists the runs")
    return run


def list_runs(
    *,
    session: Session,
    service: str | None = None,
    environment: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    environments: Collection[str] | None = None,
    with_spec: bool = False,
) -> list[Run]:
    """Runs, newest first, optionally filtered (``environments``: only those; None: all).

    Indexes ``ix_runs_created`` and ``ix_runs_target`` serve the order. The spec snapshot is
    left out unless ``with_spec``: lists never show it, and decoding it was most of the cost.
    """
    q = select(Run).order_by(Run.created_at.desc(), Run.id.desc())
    if not with_spec:
        q = q.options(defer(Run.spec, raiseload=True))
    if service:
        q = q.where(Run.service == service)
    if environment:
        q = q.where(Run.environment == environment)
    if environments is not None:
        q = q.where(Run.environment.in_(sorted(environments)))
    if status:
        q = q.where(Run.status == status)
    return list(session.scalars(q.limit(limit).offset(offset)))


def unfinished_runs(*, session: Session) -> list[Run]:
    """Every run still pending or running, oldest first (index ``ix_runs_status``)."""
    q = (select(Run).where(Run.status.in_((PENDING, RUNNING)))
         .order_by(Run.created_at, Run.id))
    return list(session.scalars(q))


def transition(
    *, session: Session, run_id: str, to: str, error: str | None = None,
    executor_id: str | None = None,
) -> Run:
    """Move a run to a new state if the rules allow it; terminal states free the lock."""
    run = session.get(Run, run_id, with_for_update=True)
    if run is None:
        raise NotFoundError(f"no run {run_id!r}")
    if run.status == to and to in TERMINAL:
        return run
    if run.status not in _TRANSITIONS[to]:
        raise RollgateError(f"run {run_id} cannot go from {run.status} to {to}")
    run.status = to
    if executor_id is not None:
        run.executor_id = executor_id
    if to == RUNNING and run.started_at is None:
        run.started_at = now()
    if error is not None:
        run.error = error
    if to in TERMINAL:
        run.finished_at = now()
        lock = session.get(RunLock, (run.service, run.environment))
        if lock is not None and lock.run_id == run.id:
            session.delete(lock)
    if to == RUNNING or to in TERMINAL:
        # In this transaction: a run never starts or ends without its notification event.
        from rollgate.notify import events

        events.run_changed(session, run, to, now())
    return run


def claim(*, session: Session, run_id: str, executor_id: str) -> None:
    """Record which executor drives a run now."""
    session.execute(update(Run).where(Run.id == run_id).values(executor_id=executor_id))


def claim_if(*, session: Session, run_id: str, expected: str | None, executor_id: str) -> bool:
    """Take a run over only if its owner is still ``expected`` (compare-and-set)."""
    owner = Run.executor_id.is_(None) if expected is None else Run.executor_id == expected
    result = session.execute(
        update(Run).where(Run.id == run_id, owner).values(executor_id=executor_id)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def step_started(*, session: Session, run_id: str, seq: int, name: str) -> Step:
    """Mark a step running; a second start of the same step counts a new attempt.

    Names hold versions (up to 128 characters themselves): they are cut to the column's
    128, which PostgreSQL enforces.
    """
    step = session.scalar(select(Step).where(Step.run_id == run_id, Step.seq == seq))
    if step is None:
        step = Step(run_id=run_id, seq=seq, name=name[:STEP_NAME_MAX], attempts=0)
        session.add(step)
    step.state = "running"
    step.attempts = (step.attempts or 0) + 1
    step.started_at = now()
    step.finished_at = None
    step.error = None
    return step


def step_finished(
    *, session: Session, run_id: str, seq: int, state: str, output: str | None,
    error: str | None,
) -> None:
    """Record the end of a step with its output excerpt or error."""
    step = session.scalar(select(Step).where(Step.run_id == run_id, Step.seq == seq))
    if step is None:
        return
    step.state = state
    step.finished_at = now()
    if step.started_at is not None:
        step.duration_ms = int((step.finished_at - step.started_at).total_seconds() * 1000)
    step.output = output
    step.error = error


def list_steps(*, session: Session, run_id: str) -> list[Step]:
    """The steps of a run in order."""
    return list(session.scalars(select(Step).where(Step.run_id == run_id).order_by(Step.seq)))
