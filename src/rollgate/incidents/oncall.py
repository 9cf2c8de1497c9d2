"""Who is on call at a moment: the rotation's turn, unless an override covers that moment."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rollgate.spec.incidents import OnCall


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def on_call(schedule: OnCall, at: datetime) -> str:
    """The person on call at ``at``: an override's person, else the rotation's turn.

    Turns begin at the hand-off time on ``start`` in the rotation's time zone and last
    ``every``; they are counted in local wall-clock time, so a weekly hand-off stays at 09:00
    across DST changes. Before ``start`` the first person is on call.
    """
    zone = ZoneInfo(schedule.timezone)
    for over in schedule.overrides:
        if _local(over.start, zone) <= at < _local(over.end, zone):
            return over.person
    hour, minute = (int(x) for x in schedule.handoff.split(":"))
    first = datetime.combine(schedule.start, time(hour, minute))
    local = at.astimezone(zone).replace(tzinfo=None)  # wall clock, as the hand-off is given
    if local < first:
        return schedule.people[0]
    turn = int((local - first) / timedelta(seconds=schedule.every))
    return schedule.people[turn % len(schedule.people)]


def next_handoff(schedule: OnCall, at: datetime) -> datetime:
    """When the turn running at ``at`` ends (UTC)."""
    zone = ZoneInfo(schedule.timezone)
    hour, minute = (int(x) for x in schedule.handoff.split(":"))
    first = datetime.combine(schedule.start, time(hour, minute))
    local = at.astimezone(zone).replace(tzinfo=None)
    step = timedelta(seconds=schedule.every)
    turns = 0 if local < first else int((local - first) / step) + 1
    return (first + turns * step).replace(tzinfo=zone).astimezone(UTC)
