"""The gates a deploy passes before it may start: deploy windows, freezes, and for a major
change a maintenance notice posted long enough before.

``evaluate`` judges them at one moment and never changes anything, so the same call serves
the deploy (refuse, wait or override) and the dry run (say what would block and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rollgate.gates.windows import (
    active_freeze,
    current_opening,
    describe,
    freeze_span,
    in_words,
    next_opening,
)
from rollgate.spec.durations import format_duration
from rollgate.spec.models import Spec
from rollgate.store.tables import MaintenanceNotice


@dataclass(frozen=True)
class Gate:
    """One gate's verdict: passed, or blocked and why (with when it opens, for a window)."""

    name: str
    ok: bool
    detail: str
    opens_at: datetime | None = None  # a closed window: its next opening

    @property
    def waitable(self) -> bool:
        """True when waiting (``--wait``) is enough to pass."""
        return not self.ok and self.opens_at is not None


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


def window_gate(spec: Spec, environment: str, at: datetime) -> Gate:
    """Is ``environment`` inside one of its deploy windows at ``at``?"""
    windows = spec.environments[environment].windows
    if windows is None:
        return Gate("window", True, f"{environment} has no deploy windows: any time")
    opening = current_opening(windows, at)
    if opening:
        return Gate("window", True, f"inside {describe(windows)} until "
                                    f"{_local(opening.end, windows.timezone)}")
    opens = next_opening(windows, at)
    return Gate("window", False,
                f"{environment} is outside its deploy windows, {describe(windows)}; the next "
                f"opens {_local(opens, windows.timezone)} (in {in_words(opens - at)})",
                opens_at=opens)


def freeze_gate(spec: Spec, service: str, environment: str, at: datetime) -> Gate:
    """Is a freeze on ``service`` in ``environment`` at ``at``?"""
    freeze = active_freeze(spec.freezes, service, environment, at)
    if freeze is None:
        return Gate("freeze", True, "no freeze")
    _, end = freeze_span(freeze)
    return Gate("freeze", False,
                f"deploys of {service} to {environment} are frozen until "
                f"{_local(end, freeze.timezone)}: {freeze.reason}")


def notice_gate(spec: Spec, service: str, environment: str, at: datetime,
                notices: Sequence[MaintenanceNotice]) -> Gate:
    """A major change needs announced maintenance covering ``at`` (``notices``: those that
    cover it), posted at least ``policies.major_notice`` before it started (seed 000: 72 h)."""
    need = spec.environments[environment].policies.major_notice
    ok = [n for n in notices if (n.starts_at - n.posted_at).total_seconds() >= need]
    if ok:
        n = ok[0]
        return Gate("notice", True, f"announced maintenance #{n.id} “{n.title}” "
                                    f"(posted {n.posted_at:%Y-%m-%d %H:%M} UTC by "
                                    f"{n.posted_by})")
    late = (f"; #{notices[0].id} covers now but was posted less than "
            f"{format_duration(need)} before it started" if notices else "")
    return Gate("notice", False,
                f"a major change of {service} in {environment} needs maintenance announced at "
                f"least {format_duration(need)} ahead that covers now{late}. Announce one: "
                f"rollgate notice post --env {environment} --starts TIME --ends TIME "
                f"--title '…' (TIME at least {format_duration(need)} from now)")


def evaluate(spec: Spec, service: str, environment: str, at: datetime, *,
             major: bool = False,
             notices: Sequence[MaintenanceNotice] = ()) -> list[Gate]:
    """Every time gate for a deploy of ``service`` to ``environment`` at ``at``; with
    ``major``, the maintenance notice too (``notices``: those covering ``at``)."""
    gates = [window_gate(spec, environment, at), freeze_gate(spec, service, environment, at)]
    if major:
        gates.append(notice_gate(spec, service, environment, at, notices))
    return gates


HOW_TO_OVERRIDE = ("an emergency deploy (--emergency --reason '…', by an approver of the "
                   "environment) overrides it, and is recorded")


def refusal(blocked: list[Gate], *, can_wait: bool) -> str:
    """Why a deploy is refused, and what to do instead."""
    why = "; ".join(g.detail for g in blocked)
    if can_wait and all(g.waitable for g in blocked):
        return f"{why}. Deploy then, add --wait to wait for it, or {HOW_TO_OVERRIDE}"
    return f"{why}. {HOW_TO_OVERRIDE[0].upper()}{HOW_TO_OVERRIDE[1:]}"
