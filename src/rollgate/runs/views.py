"""Runs and steps as plain data: the one JSON shape of the CLI's --json and the API."""

from __future__ import annotations

from typing import Any

from rollgate.store.checks import check_dict
from rollgate.store.tables import AnalysisCheck, Run, Step


def run_dict(run: Run, steps: list[Step] | None = None,
             checks: list[AnalysisCheck] | None = None) -> dict[str, Any]:
    """A run (and its steps) as plain data for --json and the API."""
    data: dict[str, Any] = {
        "id": run.id, "kind": run.kind, "service": run.service,
        "environment": run.environment, "version": run.version,
        "from_version": run.from_version, "strategy": run.strategy, "status": run.status,
        "reason": run.reason, "actor": run.actor, "error": run.error,
        "executor_id": run.executor_id, "cancel_requested": run.cancel_requested,
        "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at, "params": run.params or {},
    }
    if steps is not None:
        data["steps"] = [step_dict(s) for s in steps]
    if checks is not None:
        data["checks"] = [check_dict(c) for c in checks]
    return data


def step_dict(step: Step) -> dict[str, Any]:
    """A step as plain data."""
    return {"seq": step.seq, "name": step.name, "state": step.state,
            "attempts": step.attempts, "started_at": step.started_at,
            "finished_at": step.finished_at, "duration_ms": step.duration_ms,
            "output": step.output, "error": step.error}
