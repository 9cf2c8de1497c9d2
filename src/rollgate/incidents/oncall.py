"""Who is on call at a moment: the rotation's turn, unless an override covers that moment."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from rollgate.moments import as_utc
from rollgate.spec.incidents import OnCall, Override


def bounds(schedule: OnCall, over: Override) -> tuple[datetime, datetime]:
    """An override's start and end in UTC (without an offset: the rotation's time zone)."""
    zone = ZoneInfo(schedule.timezone)
    return as_utc(over.start, zone), as_utc(over.end, zone)


def override_at(schedule: OnCall, at: datetime) -> Override | None:
    """The first override covering ``at``, if any."""
    for over in schedule.overrides:
        start, end = bounds(schedule, over)
        if start <= at < end:
            return over
    return None


def _turns(schedule: OnCall, at: datetime) -> tuple[datetime, int | None]:
    """The first hand-off (local wall clock) and the index of the turn running at ``at``
    (None before the first hand-off). Turns are counted in local wall-clock time, so a
    weekly hand-off stays at 09:00 across DST changes."""
    hour, minute = (int(x) for x in schedule.handoff.split(":"))
    first = datetime.combine(schedule.start, time(hour, minute))
    local = at.astimezone(ZoneInfo(schedule.timezone)).replace(tzinfo=None)
    if local < first:
        return first, None
    return first, int((local - first) / timedelta(seconds=schedule.every))


def on_call(schedule: OnCall, at: datetime) -> str:
    """The person on call at ``at``: an override's person, else the rotation's turn (turns
    begin at the hand-off time on ``start``, in the rotation's time zone, and last
    ``every``; before ``start`` the first person is on call)."""
    over = override_at(schedule, at)
    if over is not None:
        return over.person
    _, turn = _turns(schedule, at)
    return schedule.people[(turn or 0) % len(schedule.people)]


def next_handoff(schedule: OnCall, at: datetime) -> datetime:
    """When the turn running at ``at`` ends (UTC)."""
    first, turn = _turns(schedule, at)
    following = 0 if turn is None else turn + 1
    return as_utc(first + following * timedelta(seconds=schedule.every),
                  ZoneInfo(schedule.timezone))
