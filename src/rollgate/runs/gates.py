"""Every gate of a deploy judged now, without side effects: what `rollgate plan` and
`rollgate deploy --dry-run` print, and what would block and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rollgate.engine.runtime import Runtime
from rollgate.runs import checklists
from rollgate.runs.service import Project, judge_time_gates, quality_gate
from rollgate.spec.durations import format_duration

Outcome = Literal["pass", "warning", "wait", "block", "info"]
_ITEM_OUTCOME: dict[str, Outcome] = {"pass": "pass", "confirmed": "pass", "warning": "warning",
                                     "fail": "block", "pending": "block", "not run": "info"}


@dataclass(frozen=True)
class GateLine:
    """One gate's verdict for a deploy now."""

    gate: str
    outcome: Outcome
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json and the API."""
        return {"gate": self.gate, "outcome": self.outcome, "detail": self.detail}


def report(rt: Runtime, project: Project, *, service: str, environment: str, version: str,
           strict: bool = False, major: bool = False) -> list[GateLine]:
    """The deploy's gates: time gates (and the notice of a major change), the pre-deploy
    checklist (its checks run now), the approvals it will wait for."""
    project.check_target(service, environment)
    lines = [GateLine(g.name, "pass" if g.ok else "wait" if g.waitable else "block", g.detail)
             for g in judge_time_gates(rt.db, project.spec, service, environment,
                                       major=major)]
    quality = quality_gate(rt, project, service, environment, version)
    if project.spec.environments[environment].quality_gate:
        lines.append(GateLine("quality", "pass" if quality.ok else "block", quality.detail))
    result = checklists.evaluate(rt, project, phase="pre-deploy", environment=environment,
                                 service=service, version=version, strict=strict)
    for item in result.items:
        outcome = _ITEM_OUTCOME[item.status]
        if outcome == "warning" and result.strict:
            outcome = "block"
        lines.append(GateLine(f"checklist: {item.id}", outcome, item.detail))
    approvals = project.spec.environments[environment].approvals
    if approvals:
        lines.append(GateLine(
            "approvals", "info",
            f"the run waits for {approvals.required} approval(s) from people other than the "
            f"requester, up to {format_duration(approvals.timeout)}"))
    return lines


def blocked(lines: list[GateLine], *, wait: bool = False) -> list[GateLine]:
    """The lines that stop the deploy now (a closed window does not, with ``wait``)."""
    stopping = {"block"} | (set() if wait else {"wait"})
    return [line for line in lines if line.outcome in stopping]
