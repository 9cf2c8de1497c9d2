"""Recreate: stop what runs, start the new version (the service is down in between)."""

from __future__ import annotations

from rollgate.strategies.base import Pipeline


def deploy(p: Pipeline) -> None:
    """Stop the live version, then start, check and route the new one."""
    plan = p.plan
    replicas = list(range(plan.replicas))
    if plan.live_instances:
        p.route("drain traffic", {})
        p.stop(f"stop {plan.live}", plan.live_instances)
    new = p.start(plan.version, replicas)
    p.ready(plan.version, new)
    p.route(f"route traffic to {plan.version}", {plan.version: (new, 100)})
    p.checks()
    p.mark_live(plan.version)
