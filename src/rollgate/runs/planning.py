"""`rollgate plan`: the steps a deploy would take, found by running the strategy dry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollgate.engine.runtime import Runtime
from rollgate.runs.service import Project, default_actor
from rollgate.spec.models import Spec
from rollgate.store import inventory
from rollgate.strategies import drive
from rollgate.strategies.base import Pipeline, Plan


@dataclass
class PlannedStep:
    """One step the strategy would run, with what it would do."""

    name: str
    action: str
    args: dict[str, Any] = field(default_factory=dict)


def plan_for(rt: Runtime, project: Project, *, service: str, environment: str,
             version: str) -> tuple[Plan, list[PlannedStep]]:
    """The plan and the steps of a deploy, without starting or routing anything."""
    project.check_target(service, environment)
    target = project.target(rt, service, environment)
    with rt.db.session() as s:
        live = inventory.deployment(session=s, service=service, environment=environment)
    live_version = live.version if live else None
    live_ids = [i.id for i in target.instances(live_version) if i.alive] if live_version else []
    plan = Plan.build(project.spec, run_id="(plan)", kind="deploy", service=service,
                      environment=environment, version=version, live=live_version,
                      live_instances=live_ids, requester=default_actor())
    steps: list[PlannedStep] = [PlannedStep("plan", "prepare")]

    def record(seq: int, name: str, action: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if action == "release":
            return {"ok": True}
        steps.append(PlannedStep(name, action, dict(kwargs)))
        if action == "start":
            return {"ok": True, "instances": [f"{kwargs['version']}#{r}"
                                              for r in kwargs["replicas"]]}
        if action == "backup":
            return {"ok": True, "backup_id": "(new backup)"}
        if action == "migrate":
            return {"ok": True, "before": "(current)", "after": "(target)"}
        return {"ok": True}

    approvers = iter(range(1, 1000))
    pipe = Pipeline(plan, runner=record, sleeper=lambda _s: None,
                    receiver=lambda _topic, _timeout: {"actor": f"(approver {next(approvers)})"})
    drive(pipe)
    return plan, steps


REGRESSIONS: dict[str, dict[str, float]] = {
    "5% errors": {"error_rate": 0.05},
    "p95 +50%": {"median_factor": 1.1, "p95_factor": 1.5},
}


def detection_estimates(spec: Spec, plan: Plan, traffic_rps: float,
                        baseline_error_rate: float) -> list[dict[str, Any]]:
    """Median time each analysis of the plan takes to catch typical regressions."""
    from rollgate.analysis.analyzer import expected_time_to_detect

    strategy = plan.strategy
    weights = [int(s["weight"]) for s in strategy.get("steps", []) if "weight" in s]
    weight = weights[0] if weights else 100
    names = [str(strategy["analysis"])] if strategy.get("analysis") else []
    names += [str(s["analysis"]) for s in strategy.get("steps", []) if "analysis" in s]
    if strategy.get("watch"):
        names.append(str(strategy["watch"]["analysis"]))
    out = []
    for name in dict.fromkeys(names):
        for label, regression in REGRESSIONS.items():
            seconds = expected_time_to_detect(spec.analyses[name], traffic_rps, weight / 100,
                                              baseline_error_rate, regression)
            out.append({"analysis": name, "weight": weight, "regression": label,
                        "seconds": seconds})
    return out
