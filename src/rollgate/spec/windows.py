"""Deploy windows and freezes in the spec: when an environment may change.

A window is weekdays and hours in a named time zone (``Tue-Thu 10:00-16:00
Africa/Cairo``); hours may wrap midnight (``22:00-02:00`` belongs to the day it starts).
A freeze is a date range, scoped to environments and services, during which deploys are
refused.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from rollgate.spec.base import Model, Name

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*-\s*(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_days(value: Any) -> tuple[int, ...]:
    """Weekday numbers (Monday 0) from ``[tue, wed]``, ``"tue-thu"`` or ``"mon,fri"``."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    days: list[int] = []
    for item in items:
        text = str(item).strip().lower()
        if "-" in text:
            first, last = (part.strip()[:3] for part in text.split("-", 1))
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"{item!r} is not a day range like tue-thu")
            i, j = DAYS.index(first), DAYS.index(last)
            days += [(i + k) % 7 for k in range((j - i) % 7 + 1)]
        elif text[:3] in DAYS:
            days.append(DAYS.index(text[:3]))
        else:
            raise ValueError(f"{item!r} is not a day: use {', '.join(DAYS)} or a range "
                             "like tue-thu")
    if not days:
        raise ValueError("name at least one day")
    return tuple(sorted(set(days)))


def parse_hours(value: Any) -> tuple[time, time]:
    """(start, end) from ``"10:00-16:00"`` (``end`` before ``start`` wraps midnight)."""
    match = _HOURS.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not hours like 10:00-16:00 (or 22:00-02:00)")
    h1, m1, s1, h2, m2, s2 = (int(g) if g else 0 for g in match.groups())
    try:
        start, end = time(h1, m1, s1), time(h2, m2, s2)
    except ValueError:
        raise ValueError(f"{value!r} is not hours like 10:00-16:00") from None
    if start == end:
        raise ValueError(f"{value!r} is empty: start and end are the same time")
    return start, end


def _days_text(days: tuple[int, ...]) -> str:
    return ",".join(DAYS[d] for d in days)


Days = Annotated[
    tuple[int, ...], BeforeValidator(parse_days), PlainSerializer(_days_text, return_type=str),
    WithJsonSchema({"anyOf": [{"type": "string", "examples": ["tue-thu", "mon,wed,fri"]},
                              {"type": "array", "items": {"type": "string", "enum": list(DAYS)}}],
                    "description": "weekdays: a list, or a range like tue-thu"}),
]
Hours = Annotated[
    tuple[time, time], BeforeValidator(parse_hours),
    PlainSerializer(lambda v: f"{v[0]:%H:%M}-{v[1]:%H:%M}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": _HOURS.pattern,
                    "examples": ["10:00-16:00", "22:00-02:00"]}),
]


def check_zone(name: str) -> str:
    """A time zone name the system knows (``Africa/Cairo``, ``UTC``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        near = difflib.get_close_matches(name, available_timezones(), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise ValueError(f"unknown time zone {name!r}{hint}") from None
    return name


class WindowRule(Model):
    """Days and hours when deploys may start."""

    days: Days = Field(description="weekdays: [tue, wed, thu] or tue-thu")
    hours: Hours | None = Field(None, description="local hours, e.g. 10:00-16:00; "
                                "22:00-02:00 wraps midnight and belongs to the day it starts; "
                                "none: the whole day")


class DeployWindows(Model):
    """When deploys to an environment may start; outside them a deploy is refused with the
    next opening time, or waits for it (``--wait``)."""

    timezone: str = Field("UTC", description="IANA time zone of the hours, e.g. Africa/Cairo")
    allow: list[WindowRule] = Field(min_length=1, description="the open windows")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)


def parse_moment(value: Any) -> date | datetime:
    """A date (``2026-12-20``) or a date and time (``2026-12-20T18:00``)."""
    if isinstance(value, datetime | date):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text) if ("T" in text or " " in text) \
            else date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (2026-12-20) or a date and time "
                         "(2026-12-20T18:00)") from None


Moment = Annotated[date | datetime, BeforeValidator(parse_moment),
                   PlainSerializer(lambda v: v.isoformat(), return_type=str),
                   WithJsonSchema({"type": "string", "examples": ["2026-12-20",
                                                                  "2026-12-20T18:00"]})]


class Freeze(Model):
    """A period when deploys are refused: dates are whole days in ``timezone``."""

    reason: str = Field(description="why, shown in the refusal", examples=["year-end freeze"])
    start: Moment = Field(description="first day (or moment) of the freeze")
    end: Moment = Field(description="last day (inclusive), or the moment it ends")
    timezone: str = Field("UTC", description="time zone of the dates")
    environments: list[Name] = Field(default_factory=list,
                                     description="only these environments (empty: all)")
    services: list[Name] = Field(default_factory=list,
                                 description="only these services (empty: all)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Freeze:
        def key(m: date | datetime) -> tuple[date, time]:
            return (m.date(), m.time()) if isinstance(m, datetime) else (m, time(0))

        if key(self.end) < key(self.start):
            raise ValueError(f"the freeze ends ({self.end}) before it starts ({self.start})")
        return self
