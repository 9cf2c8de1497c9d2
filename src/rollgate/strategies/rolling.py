"""Rolling: replace replicas one at a time, each checked before it takes traffic."""

from __future__ import annotations

from rollgate.strategies.base import Pipeline


def deploy(p: Pipeline) -> None:
    """Start a new replica, check it, swap it into the pool, stop one old replica; repeat."""
    plan = p.plan
    old = list(plan.live_instances)
    new: list[str] = []
    pause = float(plan.strategy.get("pause", 0) or 0)
    for i in range(plan.replicas):
        started = p.start(plan.version, [i])
        p.ready(plan.version, started, f"health-check {plan.version}#{i}")
        new += started
        serving = new + old[i + 1:]
        p.route(f"add {plan.version}#{i} to the pool",
                {"pool": (serving, 100)})
        if i < len(old):
            p.stop(f"stop {plan.live}#{i}", [old[i]])
        if pause and i < plan.replicas - 1:
            p.pause(pause)
    p.stop(f"stop remaining {plan.live}", old[plan.replicas:])
    p.checks()
    p.mark_live(plan.version)
