"""rollgate oncall: who is on call now, the next hand-offs, and whom the escalation chain
pages (seed 000 §6: on-call -> Ops lead -> CTO)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json
from rollgate.errors import UsageError
from rollgate.incidents.oncall import next_handoff, on_call
from rollgate.spec.incidents import IncidentPolicy, OnCall
from rollgate.store.runs import now

TURNS = 4
ADD_ONE = ("no on-call rotation in the spec; add one under `incidents:`, e.g.\n"
           "  incidents:\n"
           "    oncall:\n"
           "      people: [alice, bob, carol]\n"
           "      start: 2025-01-06        # the first person's first turn begins then\n"
           "      timezone: Africa/Cairo\n"
           "      handoff: \"09:00\"\n"
           "      every: 7d")


def register(app: typer.Typer) -> None:
    """Add the oncall command to the app."""
    app.command("oncall")(oncall)


def oncall(
    at: Annotated[str | None, typer.Option(
        "--at", help="at this moment instead of now (ISO, e.g. 2025-03-10T09:00; no offset: "
        "the rotation's time zone)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Who is on call, the next hand-offs and the escalation chain."""
    app_state.json_errors = as_json
    policy = app_state.project().spec.incidents
    moment = _moment(at, policy.oncall)
    data = roster(policy, moment)
    if as_json:
        print_json(data)
        return
    _print(data, policy.oncall)


def roster(policy: IncidentPolicy, at: datetime) -> dict[str, Any]:
    """Who is on call at ``at`` and until when, the next turns, overrides still to come and
    the escalation chain with the people it pages at ``at``."""
    schedule = policy.oncall
    chain = [{"step": i, "title": s.title,
              "person": (on_call(schedule, at) if schedule else None)
              if s.person == "oncall" else s.person, "rotation": s.person == "oncall"}
             for i, s in enumerate(policy.escalation)]
    if schedule is None:
        return {"at": at, "on_call": None, "message": ADD_ONE, "escalation": chain}
    zone = ZoneInfo(schedule.timezone)
    rotation = schedule.model_copy(update={"overrides": []})
    cover = next((o for o in schedule.overrides
                  if _aware(o.start, zone) <= at < _aware(o.end, zone)), None)
    handoffs, moment = [], at
    for _ in range(TURNS):
        moment = next_handoff(schedule, moment)
        handoffs.append({"at": moment, "local": _local(moment, zone),
                         "person": on_call(rotation, moment),
                         "covered_by": _covered(schedule, rotation, moment)})
    return {
        "at": at, "timezone": schedule.timezone, "on_call": on_call(schedule, at),
        "rotation": on_call(rotation, at), "until": handoffs[0]["at"],
        "override": None if cover is None else {
            "person": cover.person, "start": _aware(cover.start, zone),
            "end": _aware(cover.end, zone)},
        "handoffs": handoffs,
        "overrides": [{"person": o.person, "start": _aware(o.start, zone),
                       "end": _aware(o.end, zone)}
                      for o in schedule.overrides if _aware(o.end, zone) > at],
        "escalation": chain,
    }


def _covered(schedule: OnCall, rotation: OnCall, moment: datetime) -> str | None:
    """The override's person when one covers the start of a turn."""
    actual = on_call(schedule, moment)
    return actual if actual != on_call(rotation, moment) else None


def _print(data: dict[str, Any], schedule: OnCall | None) -> None:
    if schedule is None:
        console.print(data["message"], markup=False)
    else:
        zone = ZoneInfo(schedule.timezone)
        handoff = _local(data["until"], zone)
        line = f"on call now: {data['on_call']} until the hand-off {handoff}"
        if data["override"]:
            line = (f"on call now: {data['on_call']} until {_local(data['override']['end'], zone)}"
                    f" (override of {data['rotation']}, whose turn ends {handoff})")
        console.print(line, markup=False)
        table = Table(box=None, header_style="bold", title="next hand-offs",
                      title_justify="left")
        for col in ("when", "UTC", "on call"):
            table.add_column(col)
        for turn in data["handoffs"]:
            person = turn["person"] + (f" (covered by {turn['covered_by']})"
                                       if turn["covered_by"] else "")
            table.add_row(turn["local"], f"{turn['at']:%Y-%m-%d %H:%M}", person)
        console.print(table)
        for over in data["overrides"]:
            console.print(f"override: {over['person']} from {_local(over['start'], zone)} "
                          f"to {_local(over['end'], zone)}", markup=False)
    chain = " → ".join(f"{s['title']} ({s['person'] or 'whoever is on call'})"
                       for s in data["escalation"])
    console.print(f"escalation: {chain}", markup=False)


def _moment(text: str | None, schedule: OnCall | None) -> datetime:
    """``--at`` as an aware time (no offset: the rotation's zone, else UTC), or now."""
    if text is None:
        return now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO time; write e.g. 2025-03-10T09:00 "
                         "or 2025-03-10T09:00+02:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(schedule.timezone) if schedule else UTC)
    return moment.astimezone(UTC)


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    """An override's bound as UTC (no offset: the rotation's zone, as ``on_call`` reads it)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
