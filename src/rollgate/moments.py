"""Moments as rollgate keeps them: timezone-aware datetimes in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def as_utc(moment: datetime, zone: tzinfo = UTC) -> datetime:
    """``moment`` in UTC; a naive one is read as a time in ``zone``."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def parse_utc(text: str, zone: tzinfo = UTC) -> datetime:
    """An ISO 8601 time (``2025-01-04T14:30``, ``2025-01-04 14:30+02:00``) in UTC; without
    an offset it is a time in ``zone``. ValueError when ``text`` is not one."""
    return as_utc(datetime.fromisoformat(text), zone)
