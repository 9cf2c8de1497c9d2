"""Is a deploy allowed now? Deploy windows (with the next opening) and freezes.

Pure functions of the spec and a moment (an aware ``datetime``), so the clock is the
caller's: tests pass any moment, the deploy gate passes now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rollgate.spec.windows import DAYS, DeployWindows, Freeze, WindowRule


@dataclass(frozen=True)
class Opening:
    """One occurrence of a window: from ``start`` to ``end`` (aware datetimes)."""

    start: datetime
    end: datetime


def _occurrence(rule: WindowRule, day: date, zone: ZoneInfo) -> Opening:
    """The window ``rule`` opens on local ``day`` (wrapping hours end the next day)."""
    start_t, end_t = rule.hours or (time(0), time(0))
    end_day = day + timedelta(days=1) if end_t <= start_t else day
    return Opening(datetime.combine(day, start_t, zone), datetime.combine(end_day, end_t, zone))


def openings(windows: DeployWindows, around: datetime, days: int = 8) -> list[Opening]:
    """Every window occurrence from the day before ``around`` for ``days`` days, in order."""
    zone = ZoneInfo(windows.timezone)
    first = around.astimezone(zone).date() - timedelta(days=1)
    found = [
        _occurrence(rule, first + timedelta(days=n), zone)
        for n in range(days + 1)
        for rule in windows.allow
        if (first + timedelta(days=n)).weekday() in rule.days
    ]
    return sorted(found, key=lambda o: o.start)


def current_opening(windows: DeployWindows, at: datetime) -> Opening | None:
    """The window open at ``at``, if any."""
    return next((o for o in openings(windows, at) if o.start <= at < o.end), None)


def next_opening(windows: DeployWindows, at: datetime) -> datetime:
    """When a window next opens after ``at`` (``at`` itself when one is open)."""
    if current_opening(windows, at):
        return at
    return next(o.start for o in openings(windows, at) if o.start > at)


def describe(windows: DeployWindows) -> str:
    """The windows as a person says them: ``tue-thu 10:00-16:00 (Africa/Cairo)``."""
    rules = []
    for rule in windows.allow:
        days = rule.days
        contiguous = len(days) > 2 and list(days) == list(range(days[0], days[-1] + 1))
        day_text = (f"{DAYS[days[0]]}-{DAYS[days[-1]]}" if contiguous
                    else ",".join(DAYS[d] for d in days))
        if rule.hours:
            start, end = rule.hours
            day_text += f" {start:%H:%M}-{end:%H:%M}"
        rules.append(day_text)
    return f"{'; '.join(rules)} ({windows.timezone})"


def _bound(moment: date | datetime, zone: ZoneInfo, *, end: bool) -> datetime:
    """A freeze bound as an aware datetime: a date starts its day, or (end) ends it."""
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    day = moment + timedelta(days=1) if end else moment
    return datetime.combine(day, time(0), zone)


def freeze_span(freeze: Freeze) -> tuple[datetime, datetime]:
    """When a freeze starts and ends (the end excluded)."""
    zone = ZoneInfo(freeze.timezone)
    return _bound(freeze.start, zone, end=False), _bound(freeze.end, zone, end=True)


def applies(freeze: Freeze, service: str, environment: str) -> bool:
    """True when the freeze covers this service in this environment."""
    return ((not freeze.environments or environment in freeze.environments)
            and (not freeze.services or service in freeze.services))


def active_freeze(freezes: list[Freeze], service: str, environment: str,
                  at: datetime) -> Freeze | None:
    """The first freeze covering service/environment at ``at``, if any."""
    for freeze in freezes:
        start, end = freeze_span(freeze)
        if applies(freeze, service, environment) and start <= at < end:
            return freeze
    return None


def in_words(delta: timedelta) -> str:
    """A positive duration the way a refusal says it: ``2 d 3 h``, ``4 h 10 min``."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    d, rest = divmod(minutes, 1440)
    h, m = divmod(rest, 60)
    if d:
        return f"{d} d {h} h" if h else f"{d} d"
    if h:
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{m} min" if m else "less than a minute"


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)
