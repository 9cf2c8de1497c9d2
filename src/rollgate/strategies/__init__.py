"""Deployment strategies: each turns a plan into steps on a pipeline."""

from __future__ import annotations

from collections.abc import Callable

from rollgate.strategies import bluegreen, canary, recreate, rolling
from rollgate.strategies.base import Pipeline

Deploy = Callable[[Pipeline], None]

STRATEGIES: dict[str, Deploy] = {
    "recreate": recreate.deploy,
    "rolling": rolling.deploy,
    "blue-green": bluegreen.deploy,
    "canary": canary.deploy,
}


def drive(pipe: Pipeline) -> None:
    """What a run does: a deploy's gates, database steps around the strategy, or a restore
    for a data rollback."""
    from rollgate.strategies.data import before_deploy, restore_rollback
    from rollgate.strategies.gates import pass_gates

    plan = pipe.plan
    if plan.kind == "deploy":
        pass_gates(pipe)
    if plan.kind == "deploy" and plan.database:
        before_deploy(pipe)
    if plan.kind == "rollback" and plan.params.get("scope") in ("db", "full"):
        restore_rollback(pipe)
    else:
        STRATEGIES[str(plan.strategy["kind"])](pipe)
    if plan.kind == "deploy" and plan.git_tag:
        pipe.step(f"tag {plan.git_tag} in git", "git-tag", tag=plan.git_tag)
