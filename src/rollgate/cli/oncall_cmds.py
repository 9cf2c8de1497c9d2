"""rollgate oncall: who is on call now, the next hand-offs, and whom the escalation chain
pages (seed 000 §6: on-call -> Ops lead -> CTO)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from rollgate.cli.common import app_state, at_option
from rollgate.cli.render import console, print_json
from rollgate.incidents.oncall import bounds, next_handoff, on_call, override_at
from rollgate.spec.incidents import IncidentPolicy, OnCall

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
    moment = at_option(at, ZoneInfo(policy.oncall.timezone) if policy.oncall else UTC)
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
    cover = override_at(schedule, at)
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
            "person": cover.person, **dict(zip(("start", "end"), bounds(schedule, cover),
                                               strict=True))},
        "handoffs": handoffs,
        "overrides": [{"person": o.person, "start": start, "end": end}
                      for o in schedule.overrides
                      for start, end in [bounds(schedule, o)] if end > at],
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


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
