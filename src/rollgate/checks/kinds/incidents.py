"""``kind: incidents``: no open incident of the blocking severities (SEV1/SEV2 by default).

Seed 002's decision tree: nobody deploys into a SEV1. Incidents of the check's service and
environment count, and so do incidents that name no service or environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind


class IncidentsCheck(CheckConfig):
    """No open incident as severe as ``worst`` or worse."""

    kind: Literal["incidents"] = Field(description="selects this check")
    worst: int = Field(2, ge=0, le=4, description="the least severe level that blocks: 2 "
                       "blocks SEV0, SEV1 and SEV2")


@check_kind(IncidentsCheck)
def run_incidents(check: IncidentsCheck, ctx: CheckContext) -> CheckResult:
    """Fail naming the open incidents that block, most severe first."""
    if ctx.open_incidents is None:
        return ctx.failed("cannot see incidents here (no store): this check runs in a deploy "
                          "or `rollgate checklist`")
    blocking = [i for i in ctx.open_incidents() if int(i.severity[3:]) <= check.worst]
    if blocking:
        listed = "; ".join(f"{i.severity} {i.title}" for i in blocking[:3])
        more = f" and {len(blocking) - 3} more" if len(blocking) > 3 else ""
        return ctx.failed(f"{len(blocking)} open incident(s) at SEV{check.worst} or worse: "
                          f"{listed}{more}")
    return ctx.passed(f"no open incident at SEV{check.worst} or worse")
