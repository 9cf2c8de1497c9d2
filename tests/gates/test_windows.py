"""Deploy windows across time zones and midnight, and freeze scoping, on a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from rollgate.gates.windows import (
    active_freeze,
    current_opening,
    describe,
    in_words,
    next_opening,
)
from rollgate.spec.windows import DeployWindows, Freeze
from rollgate.testing import Sandbox

CAIRO = ZoneInfo("Africa/Cairo")
# Seed 000: "Tue-Thu 10:00-16:00 Africa/Cairo".
SEED = DeployWindows.model_validate(
    {"timezone": "Africa/Cairo", "allow": [{"days": "tue-thu", "hours": "10:00-16:00"}]})
NIGHTS = DeployWindows.model_validate(
    {"timezone": "America/New_York", "allow": [{"days": ["fri"], "hours": "22:00-02:00"}]})


def cairo(*args: int) -> datetime:
    return datetime(*args, tzinfo=CAIRO)  # type: ignore[misc]


def test_the_seed_window_opens_tuesday_to_thursday_in_cairo_hours() -> None:
    # 2026-12-01 is a Tuesday.
    assert current_opening(SEED, cairo(2026, 12, 1, 10, 0)) is not None
    assert current_opening(SEED, cairo(2026, 12, 3, 15, 59)) is not None
    assert current_opening(SEED, cairo(2026, 12, 1, 9, 59)) is None
    assert current_opening(SEED, cairo(2026, 12, 1, 16, 0)) is None  # the end is excluded
    assert current_opening(SEED, cairo(2026, 12, 4, 11, 0)) is None  # Friday
    assert describe(SEED) == "tue-thu 10:00-16:00 (Africa/Cairo)"


def test_the_same_instant_is_judged_in_the_windows_time_zone() -> None:
    # 07:30 UTC is 09:30 in Cairo (UTC+2, no DST in December): closed; 08:30 UTC opens it.
    assert current_opening(SEED, datetime(2026, 12, 1, 7, 30, tzinfo=UTC)) is None
    assert current_opening(SEED, datetime(2026, 12, 1, 8, 30, tzinfo=UTC)) is not None
    # From Tokyo, Wednesday 00:30 local is still Tuesday 17:30 in Cairo: closed.
    tokyo = datetime(2026, 12, 2, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert current_opening(SEED, tokyo) is None
    assert next_opening(SEED, tokyo) == cairo(2026, 12, 2, 10, 0)


def test_next_opening_after_thursday_is_next_tuesday_morning() -> None:
    friday = cairo(2026, 12, 4, 12, 0)
    opens = next_opening(SEED, friday)
    assert opens == cairo(2026, 12, 8, 10, 0)
    assert in_words(opens - friday) == "3 d 22 h"
    assert next_opening(SEED, cairo(2026, 12, 2, 11, 0)) == cairo(2026, 12, 2, 11, 0)  # open


def test_a_window_wrapping_midnight_belongs_to_the_day_it_starts() -> None:
    ny = ZoneInfo("America/New_York")
    assert current_opening(NIGHTS, datetime(2026, 12, 4, 23, 0, tzinfo=ny)) is not None  # Fri
    assert current_opening(NIGHTS, datetime(2026, 12, 5, 1, 59, tzinfo=ny)) is not None  # Sat
    assert current_opening(NIGHTS, datetime(2026, 12, 5, 2, 0, tzinfo=ny)) is None
    assert current_opening(NIGHTS, datetime(2026, 12, 5, 23, 0, tzinfo=ny)) is None  # Sat
    # Thursday 01:00 is not in Wednesday's (absent) window.
    assert current_opening(NIGHTS, datetime(2026, 12, 3, 1, 0, tzinfo=ny)) is None
    assert next_opening(NIGHTS, datetime(2026, 12, 5, 3, 0, tzinfo=ny)) == datetime(
        2026, 12, 11, 22, 0, tzinfo=ny)


def test_windows_follow_daylight_saving_time() -> None:
    ny = ZoneInfo("America/New_York")
    daily = DeployWindows.model_validate(
        {"timezone": "America/New_York", "allow": [{"days": "mon-sun", "hours": "09:00-10:00"}]})
    # 09:30 New York is 14:30 UTC in winter and 13:30 UTC in summer.
    assert current_opening(daily, datetime(2026, 1, 15, 14, 30, tzinfo=UTC)) is not None
    assert current_opening(daily, datetime(2026, 7, 15, 13, 30, tzinfo=UTC)) is not None
    assert current_opening(daily, datetime(2026, 7, 15, 14, 30, tzinfo=UTC)) is None
    # Across the March change the next opening is still 09:00 local.
    assert next_opening(daily, datetime(2026, 3, 7, 12, 0, tzinfo=ny)) == datetime(
        2026, 3, 8, 9, 0, tzinfo=ny)


def test_a_day_without_hours_is_open_all_day() -> None:
    weekend = DeployWindows.model_validate({"allow": [{"days": ["sat", "sun"]}]})
    assert current_opening(weekend, datetime(2026, 12, 5, 0, 0, tzinfo=UTC)) is not None
    assert current_opening(weekend, datetime(2026, 12, 6, 23, 59, tzinfo=UTC)) is not None
    assert current_opening(weekend, datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) is None
    assert describe(weekend) == "sat,sun (UTC)"


@pytest.mark.parametrize(("field", "value", "says"), [
    ("timezone", "Africa/Kairo", "unknown time zone 'Africa/Kairo'"),
    ("days", "tue-xyz", "is not a day range like tue-thu"),
    ("days", ["funday"], "is not a day"),
    ("hours", "10-16", "is not hours like 10:00-16:00"),
    ("hours", "25:00-26:00", "is not hours like 10:00-16:00"),
    ("hours", "10:00-10:00", "is empty"),
])
def test_a_wrong_window_says_what_is_wrong(field: str, value: object, says: str) -> None:
    raw: dict[str, object] = {"timezone": "UTC", "allow": [{"days": "mon", "hours": "10:00-11:00"}]}
    if field == "timezone":
        raw["timezone"] = value
    else:
        raw["allow"] = [{"days": "mon", "hours": "10:00-11:00", field: value}]
    with pytest.raises(ValidationError) as caught:
        DeployWindows.model_validate(raw)
    assert says in str(caught.value)


def test_a_freeze_covers_whole_days_in_its_time_zone_and_only_its_scope() -> None:
    year_end = Freeze.model_validate({
        "reason": "year-end", "start": "2026-12-24", "end": "2026-12-26",
        "timezone": "Africa/Cairo", "environments": ["production"], "services": ["web"]})
    everything = Freeze.model_validate({"reason": "migration of the data centre",
                                        "start": "2027-01-10T18:00", "end": "2027-01-11T06:00"})
    freezes = [year_end, everything]
    inside = cairo(2026, 12, 26, 23, 59)
    assert active_freeze(freezes, "web", "production", inside) is year_end
    assert active_freeze(freezes, "api", "production", inside) is None  # other service
    assert active_freeze(freezes, "web", "staging", inside) is None  # other environment
    assert active_freeze(freezes, "web", "production", cairo(2026, 12, 27, 0, 0)) is None
    assert active_freeze(freezes, "web", "production", cairo(2026, 12, 23, 23, 59)) is None
    # 2026-12-23 22:30 UTC is already the 24th in Cairo.
    assert active_freeze(freezes, "web", "production",
                         datetime(2026, 12, 23, 22, 30, tzinfo=UTC)) is year_end
    # A freeze with no scope covers every service and environment; times are its own zone.
    start = datetime(2027, 1, 10, 18, 0, tzinfo=UTC)
    assert active_freeze(freezes, "api", "staging", start) is everything
    assert active_freeze(freezes, "api", "staging", start - timedelta(seconds=1)) is None


def test_validate_names_the_file_line_and_field_of_a_wrong_window_or_freeze(
        sandbox: Sandbox) -> None:
    sandbox.spec_path.write_text(
        "project: shop\n"
        "services:\n"
        "  web: {command: 'true', port: 8080}\n"
        "environments:\n"
        "  production:\n"
        "    windows:\n"
        "      timezone: Africa/Kairo\n"
        "      allow: [{days: tue-thu, hours: '10:00-16:00'}]\n"
        "freezes:\n"
        "  - {reason: year end, start: 2026-12-20, end: 2026-12-10}\n")
    result = sandbox.run("validate")
    assert result.returncode == 2
    assert ("rollgate.yaml:7: environments.production.windows.timezone: unknown time zone "
            "'Africa/Kairo'; did you mean Africa/Cairo?") in result.stderr
    assert "rollgate.yaml:10: freezes[0]: the freeze ends (2026-12-10) before it starts" \
        in result.stderr
