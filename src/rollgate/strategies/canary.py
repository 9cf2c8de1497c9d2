"""Canary: move traffic to the new version in steps, checking its health at each one."""

from __future__ import annotations

from rollgate.spec.durations import format_duration
from rollgate.strategies.base import Pipeline


def deploy(p: Pipeline) -> None:
    """Weights and pauses from the spec, then full promotion and the old version stopped."""
    plan = p.plan
    canary = p.start(plan.version, list(range(plan.replicas)))
    p.ready(plan.version, canary)
    if plan.live_instances:
        for step in plan.strategy.get("steps", []):
            if "weight" in step:
                weight = int(step["weight"])
                p.route(f"set {plan.version} to {weight}%", {
                    plan.version: (canary, weight),
                    str(plan.live): (plan.live_instances, 100 - weight),
                })
                p.ready(plan.version, canary, f"health-check {plan.version} at {weight}%")
            elif "analysis" in step:
                p.analyze(str(step["analysis"]), float(step.get("duration") or 60.0))
            elif step["pause"] == "approval":
                p.approval(step.get("timeout"))
            else:
                p.hold(float(step["pause"]))
    p.route(f"promote {plan.version} to 100%", {plan.version: (canary, 100)})
    p.checks()
    watch = plan.strategy.get("watch")
    if watch and plan.live_instances:
        p.analyze(str(watch["analysis"]), float(watch["duration"]),
                  f"watch {plan.version} for {format_duration(float(watch['duration']))}")
    p.mark_live(plan.version)
    if plan.live and plan.live != plan.version:
        p.stop(f"stop {plan.live}", plan.live_instances)
