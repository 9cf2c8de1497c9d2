"""audit list, audit verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json, ts
from rollgate.errors import UsageError
from rollgate.store import audit

audit_app = typer.Typer(help="The audit log: who did what, when; hash-chained.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the audit command group to the app."""
    app.add_typer(audit_app, name="audit")


@audit_app.command("list")
def audit_list(
    actor: Annotated[str | None, typer.Option(help="only this actor")] = None,
    action: Annotated[str | None, typer.Option(help="actions starting with this, e.g. run.")
                      ] = None,
    target: Annotated[str | None, typer.Option(help="targets starting with this, e.g. web/")
                      ] = None,
    since: Annotated[str | None, typer.Option(help="ISO date or time, e.g. 2025-01-04")
                     ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Audit events, newest first."""
    app_state.json_errors = as_json
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise UsageError(f"--since must be an ISO date or time, not {since!r}") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    rt = app_state.runtime()
    with rt.db.session() as s:
        rows = audit.events(session=s, limit=limit, actor=actor, action=action, target=target,
                            since=start)
    if as_json:
        print_json([{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                     "target": e.target, "detail": e.detail, "hash": e.hash} for e in rows])
        return
    table = Table(box=None, header_style="bold")
    for col in ("#", "at", "actor", "action", "target", "detail"):
        table.add_column(col, overflow="fold")
    for e in rows:
        table.add_row(str(e.seq), ts(e.at), e.actor, e.action, e.target,
                      json.dumps(e.detail, default=str) if e.detail else "")
    console.print(table)


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
                 ) -> None:
    """Recompute the hash chain; exit 1 naming the first edited, deleted or inserted row."""
    app_state.json_errors = as_json
    rt = app_state.runtime()
    with rt.db.session() as s:
        verdict = audit.verify(session=s)
    if as_json:
        print_json({"ok": verdict.ok, "checked": verdict.checked, "bad_seq": verdict.bad_seq,
                    "bad_id": verdict.bad_id, "reason": verdict.reason})
    elif verdict.ok:
        console.print(f"audit log intact: {verdict.checked} events, chain verified")
    else:
        console.print(f"audit log broken at event {verdict.bad_seq} (row id "
                      f"{verdict.bad_id if verdict.bad_id is not None else '-'}): "
                      f"{verdict.reason}", style="red", markup=False)
    if not verdict.ok:
        raise typer.Exit(1)
