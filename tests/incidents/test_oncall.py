"""Who is on call: a weekly rotation handed over at a local time, across DST changes, with
overrides; and `rollgate oncall` through the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from rollgate.incidents.oncall import next_handoff, on_call
from rollgate.spec.incidents import OnCall
from rollgate.testing import Sandbox


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CAIRO = OnCall.model_validate({
    "people": ["amr", "bea", "cem"], "timezone": "Africa/Cairo", "start": "2025-01-06",
    "handoff": "09:00", "every": "7d",
    "overrides": [{"person": "dina", "start": "2025-01-15T00:00", "end": "2025-01-17T00:00"}]})


def test_a_weekly_rotation_hands_over_at_0900_cairo_time() -> None:
    rotation = CAIRO.model_copy(update={"overrides": []})
    # January: Cairo is UTC+2, so 09:00 there is 07:00 UTC.
    assert on_call(rotation, _utc("2025-01-01T12:00")) == "amr"  # before the start: first
    assert on_call(rotation, _utc("2025-01-13T06:59")) == "amr"
    assert on_call(rotation, _utc("2025-01-13T07:00")) == "bea"
    assert on_call(rotation, _utc("2025-01-20T07:00")) == "cem"
    assert on_call(rotation, _utc("2025-01-27T07:00")) == "amr"  # round again
    assert next_handoff(rotation, _utc("2025-01-08T00:00")) == _utc("2025-01-13T07:00")
    assert next_handoff(rotation, _utc("2025-01-13T07:00")) == _utc("2025-01-20T07:00")


def test_a_dst_change_keeps_the_handoff_at_0900_local() -> None:
    ny = OnCall(people=["ann", "ben"], timezone="America/New_York", start=date(2025, 3, 3))
    # 3 March 09:00 EST is 14:00 UTC; clocks go forward on 9 March, so the next hand-off,
    # 10 March 09:00 EDT, is 13:00 UTC: the turn is an hour short, the hand-off still at 9.
    assert on_call(ny, _utc("2025-03-03T14:00")) == "ann"
    assert next_handoff(ny, _utc("2025-03-05T12:00")) == _utc("2025-03-10T13:00")
    assert on_call(ny, _utc("2025-03-10T12:59")) == "ann"
    assert on_call(ny, _utc("2025-03-10T13:00")) == "ben"
    # Back to EST on 2 November: 09:00 is 14:00 UTC again.
    assert next_handoff(ny, _utc("2025-11-01T00:00")) == _utc("2025-11-03T14:00")
    # Cairo has DST too (from 25 April 2025): 09:00 there is then 06:00 UTC.
    assert next_handoff(CAIRO, _utc("2025-04-30T00:00")) == _utc("2025-05-05T06:00")


def test_an_override_wins_for_its_hours_in_the_rotation_zone() -> None:
    # The override is written without an offset: Cairo time, 15 Jan 00:00 = 14 Jan 22:00 UTC.
    assert on_call(CAIRO, _utc("2025-01-14T21:59")) == "bea"
    assert on_call(CAIRO, _utc("2025-01-14T22:00")) == "dina"
    assert on_call(CAIRO, _utc("2025-01-16T21:59")) == "dina"
    assert on_call(CAIRO, _utc("2025-01-16T22:00")) == "bea"


def _spec(box: Sandbox, incidents: dict[str, Any] | None) -> None:
    spec: dict[str, Any] = {"project": "shop",
                            "services": {"web": {"command": "true", "port": 18080}},
                            "environments": {"production": {}}}
    if incidents is not None:
        spec["incidents"] = incidents
    box.write_spec(spec)


def test_oncall_json_names_who_is_on_call_the_next_turns_and_the_chain(
        sandbox: Sandbox) -> None:
    _spec(sandbox, {"oncall": CAIRO.model_dump(mode="json")})
    # No offset: Cairo time, during dina's override of bea's turn.
    data = sandbox.json("oncall", "--at", "2025-01-16T12:00")
    assert data["at"] == "2025-01-16 10:00:00+00:00"
    assert (data["on_call"], data["rotation"]) == ("dina", "bea")
    assert data["override"] == {"person": "dina", "start": "2025-01-14 22:00:00+00:00",
                                "end": "2025-01-16 22:00:00+00:00"}
    assert data["until"] == "2025-01-20 07:00:00+00:00"
    assert [(h["at"], h["local"], h["person"]) for h in data["handoffs"]] == [
        ("2025-01-20 07:00:00+00:00", "Mon 2025-01-20 09:00 EET", "cem"),
        ("2025-01-27 07:00:00+00:00", "Mon 2025-01-27 09:00 EET", "amr"),
        ("2025-02-03 07:00:00+00:00", "Mon 2025-02-03 09:00 EET", "bea"),
        ("2025-02-10 07:00:00+00:00", "Mon 2025-02-10 09:00 EET", "cem")]
    assert [(s["title"], s["person"]) for s in data["escalation"]] == [
        ("On-call", "dina"), ("Ops lead", "ops-lead"), ("CTO", "cto")]

    plain = sandbox.run("oncall", "--at", "2025-01-16T12:00+02:00")
    assert plain.returncode == 0, plain.stderr
    assert ("on call now: dina until Fri 2025-01-17 00:00 EET (override of bea, whose turn "
            "ends Mon 2025-01-20 09:00 EET)") in plain.stdout
    assert "Mon 2025-01-20 09:00 EET  2025-01-20 07:00  cem" in plain.stdout
    assert "escalation: On-call (dina) → Ops lead (ops-lead) → CTO (cto)" in plain.stdout


def test_oncall_without_a_rotation_says_how_to_add_one(sandbox: Sandbox) -> None:
    _spec(sandbox, None)
    data = sandbox.json("oncall")
    assert data["on_call"] is None
    assert "add one under `incidents:`" in data["message"]
    plain = sandbox.run("oncall")
    assert plain.returncode == 0, plain.stderr
    assert "no on-call rotation in the spec" in plain.stdout
    assert "escalation: On-call (whoever is on call) → Ops lead (ops-lead)" in plain.stdout

    wrong = sandbox.run("oncall", "--at", "next tuesday")
    assert wrong.returncode == 2
    assert "--at 'next tuesday' is not an ISO time; write e.g. 2025-03-10T09:00" in wrong.stderr


def test_the_json_of_a_moment_after_the_override_is_the_rotation(sandbox: Sandbox) -> None:
    _spec(sandbox, {"oncall": CAIRO.model_dump(mode="json")})
    proc = sandbox.run("oncall", "--json", "--at", "2025-01-17T00:00:00+02:00")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["on_call"], data["override"], data["overrides"]) == ("bea", None, [])
