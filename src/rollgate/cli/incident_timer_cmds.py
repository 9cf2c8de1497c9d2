"""rollgate incident tick: one pass of the incident timers (reminders, escalation), for a cron
job where no `rollgate serve` runs them every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from rollgate.cli.common import app_state
from rollgate.cli.incident_cmds import incident_app
from rollgate.cli.render import console, print_json
from rollgate.errors import UsageError
from rollgate.incidents import timers, views
from rollgate.store.runs import now


@incident_app.command("tick")
def tick(
    at: Annotated[str | None, typer.Option(
        "--at", help="as of this moment instead of now (ISO; no offset: UTC)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Write the reminders and escalations due now, once each, and print them."""
    app_state.json_errors = as_json
    moment = parse_at(at)
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


def parse_at(text: str | None) -> datetime:
    """``--at`` as an aware UTC time (no offset: UTC), or now."""
    if text is None:
        return now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO time; write e.g. 2025-03-10T09:00 "
                         "(UTC) or 2025-03-10T11:00+02:00") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
