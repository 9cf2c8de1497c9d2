"""A deploy's gates inside its run: wait for the deploy window, run the pre-deploy
checklist, then wait for approvals.

Both waits are durable (a restarted engine waits only what is left) and come before
anything is touched, so a run that fails here leaves the service as it was.
"""

from __future__ import annotations

from datetime import datetime

from rollgate.gates.windows import utc_now
from rollgate.spec.durations import format_duration
from rollgate.strategies.base import OTHERS_STEP, Pipeline


def pass_gates(pipe: Pipeline) -> None:
    """Wait for the window the deploy was told to wait for, run the pre-deploy checklist,
    collect the approvals."""
    plan = pipe.plan
    until = plan.params.get("wait_until")
    if until:
        opens = datetime.fromisoformat(str(until))
        seconds = max((opens - utc_now()).total_seconds(), 0.0)
        pipe.pause(seconds, f"wait for the deploy window (opens {opens:%Y-%m-%d %H:%M} UTC)")
        pipe.step("check deploy window and freezes", "gate-time")
    if plan.checklist:
        pipe.step("pre-deploy checklist", "checklist")
    if plan.approvals_required:
        need = plan.approvals_required
        pipe.approvals(need, plan.approvals_timeout,
                       f"{OTHERS_STEP}: {need} needed, not {plan.requester or 'the requester'} "
                       f"(up to {format_duration(plan.approvals_timeout)})",
                       requester=plan.requester)
