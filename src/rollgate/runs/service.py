"""Domain functions behind the CLI and the API: deploy, rollback, resume, cancel, down."""

from __future__ import annotations

import getpass
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollgate.engine.runtime import Runtime
from rollgate.errors import LockedError, NotFoundError, RefusedError, UsageError
from rollgate.gates import deploy as deploy_gates
from rollgate.gates.deploy import Gate
from rollgate.gates.windows import utc_now
from rollgate.spec.models import Spec
from rollgate.store import audit, executors, inventory
from rollgate.store import backups as backup_store
from rollgate.store import runs as run_store
from rollgate.store.db import Database
from rollgate.store.tables import Backup, Run, Step
from rollgate.strategies.base import APPROVAL_STEP, OTHERS_STEP
from rollgate.targets.local.target import LocalTarget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Project:
    """A loaded spec and the folder it lives in."""

    spec: Spec
    spec_dir: Path

    def check_target(self, service: str | None, environment: str | None) -> None:
        """Raise a clear error for an unknown service or environment (None: not checked)."""
        if service is not None and service not in self.spec.services:
            raise UsageError(f"unknown service {service!r}; the spec has: "
                             f"{', '.join(self.spec.services)}")
        if environment is not None:
            self.check_environment(environment)

    def check_environment(self, environment: str) -> None:
        """Raise a clear error for an unknown environment."""
        if environment not in self.spec.environments:
            raise UsageError(f"unknown environment {environment!r}; the spec has: "
                             f"{', '.join(self.spec.environments)}")

    def target(self, rt: Runtime, service: str, environment: str) -> LocalTarget:
        """The target of a service in an environment."""
        return LocalTarget(spec=self.spec, spec_dir=self.spec_dir, service=service,
                           environment=environment, db=rt.db, state_dir=rt.state_dir)


def default_actor() -> str:
    """Who is acting when nobody says: the OS user."""
    try:
        return os.environ.get("ROLLGATE_ACTOR") or getpass.getuser()
    except OSError:
        return "unknown"


def create_run(
    rt: Runtime, project: Project, *, kind: str, service: str, environment: str, version: str,
    actor: str, reason: str | None, wait: bool = False, on_wait: object = None,
    params: dict[str, Any] | None = None, via: str | None = None,
) -> str:
    """Create a run holding the target's lock; with ``wait``, wait for the lock to free.

    ``via`` (how an API caller signed in: ``token:<id>`` or ``session``) goes into the audit
    event's detail; see :func:`via_detail`.
    """
    project.check_target(service, environment)
    env = project.spec.environments[environment]
    announced = False
    while True:
        try:
            with rt.db.session() as s:
                live = inventory.deployment(session=s, service=service, environment=environment)
                spec = project.spec.model_dump(mode="json")
                previous = run_store.list_runs(session=s, limit=1, with_spec=True)
                run = run_store.create_run(
                    session=s, kind=kind, service=service, environment=environment,
                    version=version, from_version=live.version if live else None,
                    strategy=env.strategy.kind, actor=actor, reason=reason,
                    spec=spec, spec_dir=str(project.spec_dir), params=params,
                )
                if previous and (changed := spec_changes(previous[0].spec, spec)):
                    audit.record(session=s, actor=actor, action="config.changed",
                                 target=project.spec.project,
                                 detail={"run": run.id, "since_run": previous[0].id,
                                         "changed": changed})
                audit.record(session=s, actor=actor, action=f"{kind}.requested",
                             target=f"{service}/{environment}",
                             detail={"run": run.id, "version": version, "reason": reason,
                                     "before": live.version if live else None,
                                     "after": version, **(params or {}),
                                     **via_detail(via)})
                return run.id
        except LockedError as locked:
            if not wait:
                raise
            if not announced and callable(on_wait):
                on_wait(locked.run_id)
                announced = True
            time.sleep(1.0)


def spec_changes(before: dict[str, Any], after: dict[str, Any], depth: int = 3,
                 prefix: str = "") -> list[str]:
    """Dotted paths (up to ``depth`` levels) where two spec snapshots differ: added, removed
    or changed. Values are not listed: a spec can hold secrets written by mistake."""
    changed: list[str] = []
    for key in sorted(before.keys() | after.keys()):
        path = f"{prefix}{key}"
        if key not in before:
            changed.append(f"{path} (added)")
        elif key not in after:
            changed.append(f"{path} (removed)")
        elif before[key] != after[key]:
            a, b = before[key], after[key]
            if depth > 1 and isinstance(a, dict) and isinstance(b, dict):
                changed += spec_changes(a, b, depth - 1, f"{path}.")
            else:
                changed.append(path)
    return changed


def via_detail(via: str | None) -> dict[str, str]:
    """``{"via": via}`` for an audit event's detail, or nothing (CLI and open-mode calls)."""
    return {"via": via} if via else {}


def start(rt: Runtime, run_id: str) -> None:
    """Start driving a run in this process."""
    from dbos import DBOS, SetWorkflowID

    from rollgate.engine.workflow import run_workflow

    rt.start_engine()
    with SetWorkflowID(run_id):
        DBOS.start_workflow(run_workflow, run_id)


def deploy(rt: Runtime, project: Project, *, service: str, environment: str, version: str,
           actor: str, wait: bool = False, on_wait: object = None,
           allow_destructive: bool = False, via: str | None = None,
           emergency: str | None = None, wait_window: bool | None = None,
           extra: dict[str, Any] | None = None, major: bool = False) -> str:
    """Start a deploy run of ``version``; returns the run id.

    ``wait``: wait for an active run on the target to end instead of refusing. Outside a
    deploy window or in a freeze the deploy is refused, unless ``wait_window`` (default:
    ``wait``; the run waits, durably, for the window to open) or ``emergency`` (the reason
    for overriding them; the caller has checked that the actor is an approver there).
    ``extra`` parameters are recorded with the run (a promotion's source). A ``major``
    change also needs announced maintenance covering it (``rollgate notice post``).
    """
    params: dict[str, Any] = {"allow_destructive": True} if allow_destructive else {}
    params.update(extra or {})
    if major:
        params["major"] = True
    params.update(time_gates(rt, project, service, environment,
                             wait=wait if wait_window is None else wait_window,
                             emergency=emergency, major=major))
    quality = quality_gate(rt, project, service, environment, version)
    if not quality.ok:
        if not emergency:
            raise RefusedError(quality.detail)
        params.setdefault("emergency", {"reason": emergency, "overrides": []})
        params["emergency"]["overrides"].append(quality.detail)
    require_confirmations(rt, project, service, environment, version)
    run_id = create_run(rt, project, kind="deploy", service=service, environment=environment,
                        version=version, actor=actor, reason=emergency, wait=wait,
                        on_wait=on_wait, params=params or None, via=via)
    start(rt, run_id)
    return run_id


def quality_gate(rt: Runtime, project: Project, service: str, environment: str,
                 version: str) -> Gate:
    """Has ``version`` passed the environment's quality gate (a recorded DEPLOY)?"""
    from rollgate.store import quality as quality_store

    name = project.spec.environments[environment].quality_gate
    if name is None:
        return Gate("quality", True, f"{environment} has no quality gate")
    with rt.db.read() as s:
        row = quality_store.latest(session=s, gate=name, service=service, version=version)
    if row is not None and row.decision == quality_store.PASSING:
        return Gate("quality", True, f"{name}: DEPLOY at {row.score:g}% "
                                     f"({row.at:%Y-%m-%d %H:%M} UTC, by {row.actor})")
    seen = (f"its latest result is {row.decision} at {row.score:g}%" if row is not None
            else "it has no result for this version")
    return Gate("quality", False,
                f"{service} {version} has not passed the quality gate {name} of {environment}: "
                f"{seen}. Record one with `rollgate gate {name} --service {service} --version "
                f"{version} --junit …`; an emergency deploy (--emergency --reason) overrides "
                "it and is recorded")


def require_confirmations(rt: Runtime, project: Project, service: str, environment: str,
                          version: str) -> None:
    """Refuse a deploy while manual items of its pre-deploy checklist are unconfirmed."""
    from rollgate.runs import checklists

    result = checklists.evaluate(rt, project, phase="pre-deploy", environment=environment,
                                 service=service, version=version, run_checks=False)
    if any(i.status == "pending" for i in result.items):
        from rollgate.gates.checklist import pending_refusal

        raise RefusedError(pending_refusal(result))


def time_gates(rt: Runtime, project: Project, service: str, environment: str, *,
               wait: bool, emergency: str | None, major: bool = False) -> dict[str, Any]:
    """The run parameters the deploy windows, freezes and (``major``) the maintenance notice
    give now: none when they pass, ``wait_until`` (waiting for a window), or ``emergency``
    (overriding them, recorded). RefusedError when they block and neither applies."""
    project.check_target(service, environment)
    if emergency is not None and not emergency.strip():
        raise UsageError("an emergency deploy needs a reason: --reason 'what is on fire'")
    blocked = [g for g in judge_time_gates(rt.db, project.spec, service, environment,
                                           major=major) if not g.ok]
    if not blocked:
        return {}
    if emergency:
        return {"emergency": {"reason": emergency, "overrides": [g.detail for g in blocked]}}
    if wait and all(g.waitable for g in blocked):
        opens = max(g.opens_at for g in blocked if g.opens_at)
        return {"wait_until": opens.isoformat()}
    raise RefusedError(deploy_gates.refusal(blocked, can_wait=True))


def judge_time_gates(db: Database, spec: Spec, service: str, environment: str, *,
                     major: bool) -> list[Gate]:
    """The time gates now (windows, freezes; the maintenance notice for a major change)."""
    from rollgate.store import notices as notice_store

    at = utc_now()
    covering = []
    if major:
        with db.read() as s:
            covering = notice_store.covering(session=s, environment=environment,
                                             service=service, at=at)
    return deploy_gates.evaluate(spec, service, environment, at, major=major,
                                 notices=covering)


def rollback_target(rt: Runtime, project: Project, *, service: str, environment: str,
                    to: str | None) -> tuple[str, str]:
    """(live version, version to roll back to), or a refusal saying why there is none."""
    project.check_target(service, environment)
    with rt.db.session() as s:
        live = inventory.deployment(session=s, service=service, environment=environment)
        history = inventory.live_history(session=s, service=service, environment=environment)
        known = {r.version for r in inventory.releases(session=s, service=service)}
    if live is None:
        raise RefusedError(f"nothing to roll back: no version of {service} is live in "
                           f"{environment}; deploy one with `rollgate deploy`")
    if to is not None:
        if to not in known:
            raise NotFoundError(f"{service} has no release {to!r}; known: "
                                f"{', '.join(sorted(known)) or 'none'}")
        if to == live.version:
            raise RefusedError(f"{to} is already live for {service} in {environment}")
        return live.version, to
    candidates = [v for v in history if v != live.version]
    if live.previous_version and live.previous_version != live.version:
        candidates.insert(0, live.previous_version)
    if not candidates:
        raise RefusedError(
            f"nothing to roll back to: {live.version} is the only version of {service} that "
            f"has been live in {environment}; roll forward with `rollgate deploy` instead"
        )
    return live.version, candidates[0]


SCOPES = ("app", "db", "full")


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback will do, said before anyone confirms it."""

    scope: str
    live: str
    to: str
    database: str | None
    backup: Backup | None
    impact: list[str]

    def params(self) -> dict[str, Any]:
        """The run parameters of this rollback."""
        return {"scope": self.scope, "backup_id": self.backup.id if self.backup else None,
                "database": self.database}


def plan_rollback(rt: Runtime, project: Project, *, service: str, environment: str,
                  scope: str = "app", to: str | None = None, backup_id: str | None = None,
                  latest_backup: bool = False) -> RollbackPlan:
    """Resolve a rollback (versions, backup) and state its impact; refuse what cannot work."""
    if scope not in SCOPES:
        raise UsageError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    project.check_target(service, environment)
    if scope == "app":
        if backup_id or latest_backup:
            raise UsageError("--backup-id and --latest-backup restore data: add --db-only or "
                             "--full (an app-only rollback leaves data untouched)")
        live, target = rollback_target(rt, project, service=service, environment=environment,
                                       to=to)
        return RollbackPlan("app", live, target, None, None, [
            f"{service} in {environment} goes back from {live} to {target}",
            "data is untouched (migrations already applied stay applied)"])
    database = project.spec.services[service].database
    if database is None:
        raise UsageError(f"{service} has no database in the spec (services.{service}.database)"
                         "; only an app-only rollback (--app-only) is possible")
    if scope == "db":
        if to:
            raise UsageError("--to picks an app version: use --full to roll back app and data")
        with rt.db.session() as s:
            live_row = inventory.deployment(session=s, service=service, environment=environment)
        if live_row is None:
            raise RefusedError(f"no version of {service} is live in {environment}; restore the "
                               "database with `rollgate backup restore ID` instead")
        live = target = live_row.version
    else:
        live, target = rollback_target(rt, project, service=service, environment=environment,
                                       to=to)
    backup = _rollback_backup(rt, service, environment, database, backup_id, latest_backup,
                              scope)
    impact = [
        f"all data written to {database} in {environment} since "
        f"{backup.created_at:%Y-%m-%d %H:%M:%S} UTC will be lost (restored from {backup.id}, "
        f"schema revision {backup.schema_revision or 'unknown'})",
        f"{service} answers 503 (maintenance) while the database is restored",
    ]
    if scope == "full":
        impact.insert(0, f"{service} in {environment} goes back from {live} to {target}")
        if backup.version and backup.version != target:
            impact.append(f"note: {backup.id} was taken while {backup.version} was live, "
                          f"not {target}")
    else:
        impact.append(f"{service} stays at {live}: it may fail if it needs the newer schema")
    return RollbackPlan(scope, live, target, database, backup, impact)


def _rollback_backup(rt: Runtime, service: str, environment: str, database: str,
                     backup_id: str | None, latest_backup: bool, scope: str) -> Backup:
    """The backup a db or full rollback restores: given, latest, or the live release's."""
    if backup_id and latest_backup:
        raise UsageError("--backup-id and --latest-backup exclude each other; give one")
    with rt.db.session() as s:
        if backup_id:
            row = backup_store.get(session=s, backup_id=backup_id)
            if (row.database, row.environment) != (database, environment):
                raise RefusedError(f"{row.id} is a backup of {row.database}/{row.environment},"
                                   f" not of {database}/{environment}")
            return row
        if latest_backup:
            found = backup_store.latest(session=s, database=database, environment=environment)
            if found is None:
                raise RefusedError(f"{database} has no backup in {environment}; take one with "
                                   f"`rollgate backup create --env {environment}`")
            return found
        if scope == "db":
            raise UsageError("a db-only rollback needs --backup-id ID or --latest-backup "
                             "(see `rollgate backup list`)")
        live = inventory.deployment(session=s, service=service, environment=environment)
        point = backup_store.of_run(session=s, run_id=live.run_id, database=database) \
            if live else None
        if point is None:
            raise RefusedError(f"no backup was taken when the live version of {service} was "
                               f"deployed; give --backup-id ID (see `rollgate backup list`)")
        return point


def rollback(rt: Runtime, project: Project, *, service: str, environment: str,
             to: str | None, reason: str | None, actor: str, scope: str = "app",
             backup_id: str | None = None, latest_backup: bool = False,
             via: str | None = None) -> str:
    """Start a rollback run (app, db or full); returns the run id."""
    env = project.spec.environments.get(environment)
    if env is not None and env.policies.require_reason and not (reason and reason.strip()):
        raise UsageError("a rollback needs a reason: add --reason \"what went wrong\"")
    plan = plan_rollback(rt, project, service=service, environment=environment, scope=scope,
                         to=to, backup_id=backup_id, latest_backup=latest_backup)
    if plan.backup is not None and plan.database is not None:
        # A damaged backup is refused here, before a run starts or maintenance goes on.
        from rollgate.data import catalog
        from rollgate.data.target import DataTarget

        t = DataTarget.resolve(project.spec, project.spec_dir, rt.state_dir, plan.database,
                               environment)
        catalog.verify(rt.db, t, plan.backup.id)
    run_id = create_run(rt, project, kind="rollback", service=service, environment=environment,
                        version=plan.to, actor=actor, reason=reason, params=plan.params(),
                        via=via)
    start(rt, run_id)
    return run_id


def owner_alive(rt: Runtime, run: Run) -> bool:
    """True when the executor driving ``run`` is still beating."""
    with rt.db.session() as s:
        return executors.is_alive(session=s, executor_id=run.executor_id,
                                  timeout=rt.settings.heartbeat_timeout)


def take_over(rt: Runtime, run: Run) -> bool:
    """Drive an interrupted run from its interrupted step in this process."""
    from dbos import DBOS, SetWorkflowID

    from rollgate.engine.workflow import run_workflow

    rt.start_engine()
    with rt.db.session() as s:
        # Two servers may see the same orphan: only the one that claims it recovers it.
        if not run_store.claim_if(session=s, run_id=run.id, expected=run.executor_id,
                                  executor_id=rt.executor_id):
            return False
    status = DBOS.get_workflow_status(run.id)
    if status is None:
        with SetWorkflowID(run.id):
            DBOS.start_workflow(run_workflow, run.id)
        return True
    if (status.status == "PENDING" and status.executor_id
            and status.executor_id != rt.executor_id):
        return bool(DBOS._recover_pending_workflows([status.executor_id]))
    return False


def resume(rt: Runtime, run_id: str, actor: str, via: str | None = None) -> Run:
    """Resume a run whose process died; refused when it is finished or still driven."""
    with rt.db.session() as s:
        run = run_store.get_run(session=s, run_id=run_id)
    if run.status in run_store.TERMINAL:
        raise RefusedError(f"run {run_id} already ended ({run.status}); nothing to resume")
    if run.executor_id and owner_alive(rt, run):
        raise RefusedError(
            f"run {run_id} is still being driven by {run.executor_id}; watch it with "
            f"`rollgate runs show {run_id}` or stop it with `rollgate cancel {run_id}`"
        )
    with rt.db.session() as s:
        audit.record(session=s, actor=actor, action="run.resumed",
                     target=f"{run.service}/{run.environment}",
                     detail={"run": run_id, **via_detail(via)})
    take_over(rt, run)
    return run


def cancel(rt: Runtime, run_id: str, actor: str, via: str | None = None) -> Run:
    """Ask a run to stop; it discards or rolls back what it started, then ends cancelled."""
    with rt.db.session() as s:
        run = run_store.get_run(session=s, run_id=run_id)
        if run.status in run_store.TERMINAL:
            raise RefusedError(f"run {run_id} already ended ({run.status})")
        run.cancel_requested = True
        audit.record(session=s, actor=actor, action="run.cancel_requested",
                     target=f"{run.service}/{run.environment}",
                     detail={"run": run_id, **via_detail(via)})
    if not owner_alive(rt, run):
        take_over(rt, run)
    return run


def approval_step(run: Run, steps: Iterable[Step]) -> Step | None:
    """The approval step (``pause: approval`` or the environment's approvals) the run is
    waiting at, if any."""
    if run.status in run_store.TERMINAL:
        return None
    return next((st for st in steps
                 if st.state == "running" and st.name.startswith(APPROVAL_STEP)), None)


def waiting_for_approval(rt: Runtime, run_id: str) -> tuple[Run, Step]:
    """The run and the step it waits at; refused when it is not waiting for an approval."""
    with rt.db.session() as s:
        run = run_store.get_run(session=s, run_id=run_id)
        step = approval_step(run, run_store.list_steps(session=s, run_id=run_id))
    if step is None:
        raise RefusedError(f"run {run_id} is not waiting for an approval "
                           f"(status {run.status}); nothing to approve")
    return run, step


def approve(rt: Runtime, run_id: str, actor: str, comment: str | None,
            via: str | None = None, *, reject: bool = False) -> Run:
    """Approve (or reject) a run waiting at an approval step; recorded in the audit log.

    At an environment's approvals step the requester's own decision is refused: approvals
    there come from other people (four eyes).
    """
    run, step = waiting_for_approval(rt, run_id)
    if step.name.startswith(OTHERS_STEP) and actor == run.actor:
        raise RefusedError(f"{actor} asked for this deploy and cannot approve or reject it: "
                           f"{run.environment} needs approvals from other people (four eyes)")
    if reject and not (comment or "").strip():
        raise UsageError("say why you reject it: --comment '…' (recorded)")
    from dbos import DBOS

    rt.start_engine()
    DBOS.send(run_id, {"actor": actor, "comment": comment,
                       "decision": "reject" if reject else "approve"}, topic="approval")
    with rt.db.session() as s:
        audit.record(session=s, actor=actor,
                     action="run.rejected" if reject else "run.approved",
                     target=f"{run.service}/{run.environment}",
                     detail={"run": run_id, "comment": comment, "step": step.name,
                             **via_detail(via)})
    return run


def recover_orphans(rt: Runtime) -> list[str]:
    """Take over every unfinished run whose executor stopped beating (used by serve)."""
    taken = []
    with rt.db.session() as s:
        active = run_store.unfinished_runs(session=s)
    for run in active:
        if run.executor_id == rt.executor_id or owner_alive(rt, run):
            continue
        age = time.time() - run.created_at.timestamp()
        if run.executor_id is None and age < rt.settings.heartbeat_timeout:
            continue  # just created; its CLI is about to start it
        if take_over(rt, run):
            log.info("resumed run %s (executor %s stopped)", run.id, run.executor_id)
            taken.append(run.id)
    return taken


def down(rt: Runtime, project: Project, *, service: str, environment: str, actor: str) -> int:
    """Stop every instance and the proxy of a target; refused while a run is active."""
    project.check_target(service, environment)
    with rt.db.session() as s:
        active = run_store.active_run_id(session=s, service=service, environment=environment)
    if active:
        raise LockedError(f"{service} in {environment} has an active run {active}; "
                          f"cancel it first (`rollgate cancel {active}`)", run_id=active)
    target = project.target(rt, service, environment)
    stopped = 0
    for inst in target.instances():
        target.stop(inst.id)
        stopped += 1
    target.stop_router()
    with rt.db.session() as s:
        inventory.clear_live(session=s, service=service, environment=environment)
        audit.record(session=s, actor=actor, action="target.down",
                     target=f"{service}/{environment}", detail={"stopped": stopped})
    return stopped
