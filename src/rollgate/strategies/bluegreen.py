"""Blue-green: start green beside blue, check it, switch all traffic, keep blue warm."""

from __future__ import annotations

from rollgate.spec.durations import format_duration
from rollgate.strategies.base import Pipeline


def deploy(p: Pipeline) -> None:
    """Green is checked before it takes any traffic; blue stays warm for instant rollback."""
    plan = p.plan
    green = p.start(plan.version, list(range(plan.replicas)))
    p.ready(plan.version, green)
    verify = float(plan.strategy.get("verify", 0) or 0)
    analysis = plan.strategy.get("analysis")
    if verify and analysis and plan.live_instances:
        p.analyze(str(analysis), verify, f"verify {plan.version} against {plan.live} for "
                  f"{format_duration(verify)} (analysis {analysis})", probe_traffic=True)
    elif verify:
        p.verify(plan.version, green, verify)
    p.route(f"switch traffic to {plan.version}", {plan.version: (green, 100)})
    p.checks()
    watch = plan.strategy.get("watch")
    if watch and plan.live_instances:
        p.analyze(str(watch["analysis"]), float(watch["duration"]),
                  f"watch {plan.version} for {format_duration(float(watch['duration']))}")
    p.mark_live(plan.version)
    keep_warm = float(plan.strategy.get("keep_warm", 0) or 0)
    if plan.live and plan.live != plan.version:
        if keep_warm and plan.kind == "deploy":
            p.step(f"keep {plan.live} warm", "keep-warm", version=plan.live, seconds=keep_warm)
        else:
            p.stop(f"stop {plan.live}", plan.live_instances)
