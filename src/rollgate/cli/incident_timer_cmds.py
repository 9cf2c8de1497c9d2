"""rollgate incident tick: one pass of the incident timers (reminders, escalation), for a cron
job where no `rollgate serve` runs them every few seconds."""

from __future__ import annotations

from typing import Annotated

import typer

from rollgate.cli.common import app_state, at_option
from rollgate.cli.incident_cmds import incident_app
from rollgate.cli.render import console, print_json
from rollgate.incidents import timers, views


@incident_app.command("tick")
def tick(
    at: Annotated[str | None, typer.Option(
        "--at", help="as of this moment instead of now (ISO; no offset: UTC)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Write the reminders and escalations due now, once each, and print them."""
    app_state.json_errors = as_json
    moment = at_option(at)
    policy = app_state.project().spec.incidents
    with app_state.runtime().db.session() as s:
        written = timers.tick(session=s, policy=policy, at=moment)
    if as_json:
        print_json([{"incident": e.incident_id, **views.event_dict(e)} for e in written])
        return
    if not written:
        console.print(f"nothing due at {moment:%Y-%m-%d %H:%M:%S} UTC", markup=False)
    for event in written:
        console.print(f"{event.incident_id}  {event.at:%Y-%m-%d %H:%M:%S} UTC  {event.kind}: "
                      f"{event.text}", markup=False)
