"""rollgate checklist: show a phase's checklist, run its automated items, confirm manual ones.

Seed 002's ``npm run deploy:checklist -- --environment=production --strict`` is
``rollgate checklist --env production --strict``.
"""

from __future__ import annotations

import sys
from typing import Annotated, get_args

import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.remote import RemoteClient
from rollgate.cli.render import console, print_json
from rollgate.errors import UsageError
from rollgate.gates.checklist import ChecklistResult
from rollgate.runs import checklists
from rollgate.runs.service import default_actor
from rollgate.spec.checklists import Phase

_STYLE = {"pass": "green", "confirmed": "green", "warning": "yellow", "fail": "red",
          "pending": "red", "not run": "dim"}


def register(app: typer.Typer) -> None:
    """Add the checklist command to the app."""
    app.command(name="checklist")(checklist)


def checklist(
    env: Annotated[str, typer.Option("--env", "-e", help="environment")],
    service: Annotated[str | None, typer.Option(
        "--service", "-s", help="service (default: the spec's only one)")] = None,
    version: Annotated[str | None, typer.Option(
        "--version", "-v", help="the version about to be deployed (confirmations of a "
        "pre-deploy checklist are for one version)")] = None,
    phase: Annotated[str, typer.Option(
        help="pre-deploy, post-deploy or post-incident")] = "pre-deploy",
    strict: Annotated[bool, typer.Option("--strict", help="warnings are failures")] = False,
    confirm: Annotated[list[str] | None, typer.Option(
        "--confirm", help="confirm this manual item (by its id; repeatable)")] = None,
    comment: Annotated[str | None, typer.Option(
        help="recorded with the confirmations")] = None,
    prompt: Annotated[bool | None, typer.Option(
        "--prompt/--no-prompt", help="ask about each unconfirmed manual item (default: "
        "when on a terminal)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Run a checklist: automated items now, manual items with who confirmed them; exit 0
    when nothing blocks (with --strict, warnings block too)."""
    app_state.json_errors = as_json
    if phase not in get_args(Phase):
        raise UsageError(f"unknown phase {phase!r}; phases: {', '.join(get_args(Phase))}")
    the_phase: Phase = phase  # type: ignore[assignment]
    ask = prompt if prompt is not None else (sys.stdin.isatty() and not as_json)
    if (client := app_state.remote()) is not None:
        result = _remote(client, the_phase, env, service, version, strict, confirm or [],
                         comment, ask)
    else:
        result = _local(the_phase, env, service, version, strict, confirm or [], comment, ask)
    if as_json:
        print_json(result.as_dict())
    else:
        _print(result)
    raise typer.Exit(0 if result.ok else 1)


def _ask(pending: ChecklistResult, actor: str) -> list[tuple[str, str | None]]:
    """Ask about each unconfirmed manual item: (item, comment) of those confirmed."""
    confirmed = []
    for item in (i for i in pending.items if i.status == "pending"):
        if typer.confirm(f"{item.text}: confirm as {actor}?", default=False):
            note = typer.prompt("comment (optional)", default="", show_default=False)
            confirmed.append((item.id, note or None))
    return confirmed


def _local(phase: Phase, env: str, service: str | None, version: str | None, strict: bool,
           confirm: list[str], comment: str | None, ask: bool) -> ChecklistResult:
    project, rt = app_state.project(), app_state.runtime()
    actor = default_actor()
    if confirm:
        checklists.confirm(rt, project, phase=phase, environment=env, service=service,
                           version=version, items=confirm, actor=actor, comment=comment)
    if ask:
        pending = checklists.evaluate(rt, project, phase=phase, environment=env,
                                      service=service, version=version, run_checks=False)
        for item, note in _ask(pending, actor):
            checklists.confirm(rt, project, phase=phase, environment=env, service=service,
                               version=version, items=[item], actor=actor, comment=note)
    return checklists.evaluate(rt, project, phase=phase, environment=env, service=service,
                               version=version, strict=strict)


def _remote(client: RemoteClient, phase: Phase, env: str, service: str | None,
            version: str | None, strict: bool, confirm: list[str], comment: str | None,
            ask: bool) -> ChecklistResult:
    target = {"environment": env, "service": service, "version": version}

    def post(items: list[str], note: str | None) -> ChecklistResult:
        return ChecklistResult.from_dict(client.request(
            "POST", f"/api/checklists/{phase}/confirmations",
            json={**target, "items": items, "comment": note}))

    if confirm:
        post(confirm, comment)
    query = {k: v for k, v in {**target, "strict": strict}.items() if v is not None}
    result = ChecklistResult.from_dict(client.request("GET", f"/api/checklists/{phase}",
                                                      params=query))
    if not ask:
        return result
    me = client.request("GET", "/api/auth/me")["name"]
    asked = _ask(result, str(me))
    for item, note in asked:
        post([item], note)
    return ChecklistResult.from_dict(client.request("GET", f"/api/checklists/{phase}",
                                                    params=query)) if asked else result


def _print(result: ChecklistResult) -> None:
    about = " ".join(x for x in (result.service, result.version) if x)
    title = (f"{result.phase} checklist of {result.environment}"
             + (f" for {about}" if about else "") + (" (strict)" if result.strict else ""))
    table = Table(title=title, header_style="bold")
    for col in ("item", "kind", "status", "detail"):
        table.add_column(col)
    for item in result.items:
        style = _STYLE[item.status]
        table.add_row(item.text if item.kind == "manual" else item.id, item.kind,
                      f"[{style}]{item.status}[/]", item.detail)
    console.print(table)
    blocking = result.blocking()
    if not result.items:
        console.print("nothing on this checklist")
    elif blocking:
        console.print(f"[red]blocked[/]: {', '.join(i.id for i in blocking)}")
        pending = [i.id for i in blocking if i.status == "pending"]
        if pending:
            console.print(f"confirm with: rollgate checklist --env {result.environment} "
                          + (f"--service {result.service} " if result.service else "")
                          + (f"--version {result.version} " if result.version else "")
                          + " ".join(f"--confirm {p}" for p in pending))
    else:
        console.print("[green]ready[/]")
