"""Gate actions of a run: check the deploy window and freezes again after waiting; run the
pre-deploy checklist; tag the release in git once it is live."""

from __future__ import annotations

from typing import Any

from rollgate.engine.actions import ActionContext, action
from rollgate.errors import CheckFailed, RefusedError
from rollgate.gates import deploy as deploy_gates
from rollgate.runs import checklists, git
from rollgate.runs.service import judge_time_gates


@action("gate-time")
def gate_time(ctx: ActionContext) -> dict[str, Any]:
    """Refuse when, now the window has opened, it is closed again or a freeze began."""
    run = ctx.run
    gates = judge_time_gates(ctx.db, ctx.spec, run.service, run.environment,
                             major=bool((run.params or {}).get("major")))
    for gate in gates:
        ctx.say(f"{gate.name}: {gate.detail}")
    blocked = [g for g in gates if not g.ok]
    if blocked:
        raise RefusedError(deploy_gates.refusal(blocked, can_wait=False))
    return {"ok": True}


_MARKS = {"pass": "ok", "confirmed": "ok", "warning": "WARN", "fail": "FAIL",
          "pending": "PENDING", "not run": "-"}


@action("checklist")
def run_checklist(ctx: ActionContext) -> dict[str, Any]:
    """Run the automated items and re-read the confirmations; fail on what blocks."""
    run, target = ctx.run, ctx.target
    result = checklists.judge(ctx.db, ctx.spec, target.spec_dir, "pre-deploy",
                              run.environment, service=run.service, version=run.version,
                              target=target)
    for item in result.items:
        ctx.say(f"{_MARKS[item.status]} {item.id}: {item.detail}")
    blocking = result.blocking()
    if blocking:
        strict = " (strict: warnings fail)" if result.strict else ""
        raise CheckFailed(f"pre-deploy checklist{strict}: "
                          + "; ".join(f"{i.id} {i.status}: {i.detail}" for i in blocking))
    return {}


@action("git-tag")
def git_tag(ctx: ActionContext, tag: str) -> dict[str, Any]:
    """Tag the version live now; a git problem is said, never a failure (it is live)."""
    promotion, run = ctx.spec.promotion, ctx.run
    repo = ctx.target.spec_dir / (promotion.repo or ".")
    message = (f"{run.service} {run.version} live in {run.environment} "
               f"(rollgate run {run.id}, by {run.actor})")
    try:
        ctx.say(git.tag(repo, tag, run.version, message))
        if promotion.push:
            ctx.say(git.push_tag(repo, promotion.remote, tag))
    except git.GitError as exc:
        ctx.say(f"warning: {exc}")
    return {}
