"""What each step does. Every action is idempotent: it checks the state before acting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rollgate.errors import CheckFailed, UsageError
from rollgate.gates.runner import check_runner
from rollgate.runs import commits
from rollgate.spec.durations import format_duration
from rollgate.spec.models import Spec
from rollgate.store import inventory
from rollgate.store import runs as run_store
from rollgate.store.db import Database
from rollgate.store.tables import Run
from rollgate.targets.local.target import LocalTarget


@dataclass
class ActionContext:
    """What an action may use: the run, its spec snapshot, the target and an output log."""

    db: Database
    run: Run
    spec: Spec
    target: LocalTarget
    lines: list[str] = field(default_factory=list)
    cleanup: bool = False
    seq: int = 0

    def say(self, line: str) -> None:
        """Add a line to the step's output."""
        self.lines.append(line)

    def cancel_requested(self) -> bool:
        """True once someone asked to cancel this run (never while cleaning up after it)."""
        if self.cleanup:
            return False
        with self.db.session() as s:
            return bool(run_store.get_run(session=s, run_id=self.run.id).cancel_requested)


Action = Callable[..., dict[str, Any]]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    """Register an action under a name used by the workflow."""

    def register(fn: Action) -> Action:
        if name in ACTIONS:
            raise ValueError(f"duplicate action {name}")
        ACTIONS[name] = fn
        return fn

    return register


def target_for(db: Database, run: Run, spec: Spec, state_dir: Path) -> LocalTarget:
    """The target a run acts on."""
    return LocalTarget(spec=spec, spec_dir=Path(run.spec_dir), service=run.service,
                       environment=run.environment, db=db, state_dir=state_dir)


@action("prepare")
def prepare(ctx: ActionContext) -> dict[str, Any]:
    """Retire expired warm instances, make sure the router runs, and read what is live."""
    retired = retire_due(ctx.target)
    if retired:
        ctx.say(f"decommissioned {', '.join(retired)}: keep-warm time is over")
    url = ctx.target.ensure_router()
    commit = commits.of_release(ctx.db, ctx.spec, ctx.target.spec_dir, ctx.run)
    with ctx.db.session() as s:
        live = inventory.deployment(session=s, service=ctx.run.service,
                                    environment=ctx.run.environment)
        inventory.ensure_release(session=s, service=ctx.run.service, version=ctx.run.version,
                                 commit_sha=commit.sha, committed_at=commit.at)
    live_version = live.version if live else None
    live_ids = [i.id for i in ctx.target.instances(live_version) if i.alive] if live_version else []
    ctx.say(f"public URL {url}; live: {live_version or 'nothing'}"
            + (f" ({len(live_ids)} instance(s))" if live_version else ""))
    return {"live": live_version, "live_instances": live_ids}


def retire_due(target: LocalTarget) -> list[str]:
    """Stop this target's instances whose keep-warm time is over (never the live version)."""
    with target.db.session() as s:
        live = inventory.deployment(session=s, service=target.service,
                                    environment=target.environment)
        due = [r for r in inventory.due_for_retirement(session=s, at=run_store.now())
               if r.service == target.service and r.environment == target.environment
               and (live is None or r.version != live.version)]
    for row in due:
        target.stop(row.id)
    return [r.id for r in due]


@action("start")
def start(ctx: ActionContext, version: str, replicas: list[int]) -> dict[str, Any]:
    """Start (or adopt) replicas of a version."""
    ids = []
    for replica in replicas:
        inst = ctx.target.start(version, replica, ctx.run.id)
        ids.append(inst.id)
        ctx.say(f"{version}#{replica}: pid {inst.pid}, port {inst.port}")
    return {"instances": ids}


@action("ready")
def ready(ctx: ActionContext, instances: list[str]) -> dict[str, Any]:
    """Wait until each instance passes its health check."""
    known = {i.id: i for i in ctx.target.instances()}
    for iid in instances:
        if iid not in known:
            raise UsageError(f"instance {iid} is not running")
        ctx.say(ctx.target.wait_ready(known[iid], ctx.cancel_requested))
    return {}


@action("verify")
def verify(ctx: ActionContext, instances: list[str], seconds: float) -> dict[str, Any]:
    """Keep probing instances for a while; fail on consecutive health failures."""
    from rollgate.checks.health import watch_healthy

    known = {i.id: i for i in ctx.target.instances()}
    per = seconds / max(len(instances), 1)
    for iid in instances:
        ok, detail, probes = watch_healthy(known[iid].url, ctx.target.svc.health, per,
                                           ctx.cancel_requested)
        if not ok:
            raise CheckFailed(f"{iid} became unhealthy while verified: {detail}")
        ctx.say(f"{iid}: {probes} probes healthy over {format_duration(per)}")
    return {}


@action("route")
def route(ctx: ActionContext, weights: dict[str, int]) -> dict[str, Any]:
    """Point the router at instances by weight."""
    ctx.target.route(weights)
    shares = ctx.target.weights()
    ctx.say("traffic: " + ", ".join(f"{v} {w}%" for v, w in sorted(shares.items()))
            if shares else "traffic: none (503 until a version is routed)")
    return {"weights": shares}


_LABELS = {"pass": "PASS", "warning": "WARN", "fail": "FAIL"}


@action("checks")
def checks(ctx: ActionContext, names: list[str]) -> dict[str, Any]:
    """Run the post-deploy checks against the public URL."""
    failed = []
    target = ctx.target
    target.service_env()  # an unset ${NAME} fails the step, saying which
    run = check_runner(ctx.db, ctx.spec, target.spec_dir, target.environment, target.service,
                       target)
    for name in names:
        result = run(name)
        ctx.say(f"{_LABELS[result.status]} {name}: {result.detail} ({result.duration_ms} ms)")
        if not result.ok:
            failed.append(f"{name} ({result.detail})")
    if failed:
        raise CheckFailed("post-deploy check failed: " + "; ".join(failed))
    return {}


@action("stop")
def stop(ctx: ActionContext, instances: list[str]) -> dict[str, Any]:
    """Stop instances."""
    for iid in instances:
        ctx.target.stop(iid)
        ctx.say(f"stopped {iid}")
    return {}


@action("keep-warm")
def keep_warm(ctx: ActionContext, version: str, seconds: float) -> dict[str, Any]:
    """Keep a replaced version running for instant rollback, until a deadline."""
    until = run_store.now() + timedelta(seconds=seconds)
    with ctx.db.session() as s:
        inventory.set_retire(session=s, service=ctx.run.service,
                             environment=ctx.run.environment, version=version, at=until)
    ctx.say(f"{version} stays warm until {until:%Y-%m-%d %H:%M:%S} UTC")
    return {"until": until.isoformat()}


@action("mark-live")
def mark_live(ctx: ActionContext, version: str) -> dict[str, Any]:
    """Record the version as live; stop any older warm version but the one just replaced."""
    with ctx.db.session() as s:
        before = inventory.deployment(session=s, service=ctx.run.service,
                                      environment=ctx.run.environment)
        replaced = before.version if before and before.version != version else (
            before.previous_version if before else None)
        inventory.set_live(session=s, service=ctx.run.service,
                           environment=ctx.run.environment, version=version, run_id=ctx.run.id)
        inventory.set_retire(session=s, service=ctx.run.service,
                             environment=ctx.run.environment, version=version, at=None)
    for inst in ctx.target.instances():
        if inst.version not in (version, replaced):
            ctx.target.stop(inst.id)
            ctx.say(f"stopped stale {inst.id}")
    ctx.say(f"{version} is live")
    return {"replaced": replaced}


@action("note")
def note(ctx: ActionContext, text: str) -> dict[str, Any]:
    """Record a line in the run's journal (runbook notes; also the engine benchmark)."""
    ctx.say(text)
    return {}
