"""rollgate notice post | list | cancel: announced maintenance (seed 000 §5: 72 h ahead for
a major change; seed 001: 7 days and 24 hours ahead)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json, ts
from rollgate.runs import notices
from rollgate.runs.service import default_actor
from rollgate.store import notices as notice_store
from rollgate.store.runs import now

notice_app = typer.Typer(help="Announced maintenance: a major change needs one in time.",
                         no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="print JSON")]


def register(app: typer.Typer) -> None:
    """Add the notice command group to the app."""
    app.add_typer(notice_app, name="notice")


@notice_app.command("post")
def post(
    env: Annotated[str, typer.Option("--env", "-e", help="environment")],
    starts: Annotated[str, typer.Option(help="start, e.g. '2026-12-01 10:00'")],
    ends: Annotated[str, typer.Option(help="end, e.g. '2026-12-01 12:00'")],
    title: Annotated[str, typer.Option(help="what customers read")],
    service: Annotated[str | None, typer.Option("--service", "-s",
                                                help="only this service")] = None,
    message: Annotated[str | None, typer.Option(help="details")] = None,
    timezone: Annotated[str, typer.Option(help="time zone of --starts/--ends")] = "UTC",
    as_json: Json = False,
) -> None:
    """Announce maintenance from now."""
    app_state.json_errors = as_json
    row = notices.post(app_state.runtime(), app_state.project(), environment=env,
                       service=service, title=title, message=message, starts=starts,
                       ends=ends, timezone=timezone, actor=default_actor())
    if as_json:
        print_json(notices.notice_dict(row))
        return
    ahead = row.starts_at - row.posted_at
    console.print(f"posted notice #{row.id}: {row.title} ({ts(row.starts_at)} → "
                  f"{ts(row.ends_at)}), {ahead.days} d {ahead.seconds // 3600} h ahead",
                  markup=False)


@notice_app.command("list")
def list_notices(
    env: Annotated[str | None, typer.Option("--env", "-e", help="environment")] = None,
    all_: Annotated[bool, typer.Option("--all", help="past ones too")] = False,
    as_json: Json = False,
) -> None:
    """Notices, soonest first (current and coming ones unless --all)."""
    with app_state.runtime().db.read() as s:
        rows = notice_store.listing(session=s, environment=env,
                                    since=None if all_ else now(), limit=500)
    if as_json:
        print_json([notices.notice_dict(r) for r in rows])
        return
    table = Table(header_style="bold")
    for col in ("id", "environment", "service", "title", "starts", "ends", "posted", "by",
                "state"):
        table.add_column(col)
    for n in rows:
        table.add_row(str(n.id), n.environment, n.service or "*", n.title, ts(n.starts_at),
                      ts(n.ends_at), ts(n.posted_at), n.posted_by,
                      "cancelled" if n.cancelled_at else "announced")
    console.print(table)


@notice_app.command("cancel")
def cancel(notice_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Cancel a notice."""
    row = notices.cancel(app_state.runtime(), notice_id, actor=default_actor())
    console.print(f"cancelled notice #{row.id}: {row.title}", markup=False)
