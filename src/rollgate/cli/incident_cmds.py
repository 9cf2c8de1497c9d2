"""rollgate incident open | list | show | … : run an incident from the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

incident_app = typer.Typer(help="Incidents: open, run, resolve and learn from them.",
                           no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="print JSON")]


def register(app: typer.Typer) -> None:
    """Add the incident command group to the app (with the commands other modules attach)."""
    app.add_typer(incident_app, name="incident")
