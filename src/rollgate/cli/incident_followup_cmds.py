"""rollgate incident comms | postmortem | action add|done|list: the messages of an incident,
its post-mortem and its follow-ups (attached to the incident group)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.incident_cmds import Actor, IncidentId, Json, incident_app
from rollgate.cli.render import console, print_json, ts
from rollgate.errors import UsageError
from rollgate.incidents import actions, comms, lifecycle, postmortem, service
from rollgate.runs.service import default_actor
from rollgate.store.runs import now

action_app = typer.Typer(help="Action items: the follow-ups of an incident.",
                         no_args_is_help=True)
incident_app.add_typer(action_app, name="action")


@incident_app.command("comms")
def comms_(
    incident_id: IncidentId,
    kind: Annotated[str | None, typer.Option(
        "--kind", "-k", help="initial, update or resolution (default: what is due next)")] = None,
    message: Annotated[str | None, typer.Option(
        "--message", "-m", help="the current status / findings (default: the latest "
        "update on the timeline)")] = None,
    eta: Annotated[str | None, typer.Option(help="estimated resolution, e.g. '30 min'")] = None,
    record: Annotated[bool, typer.Option(
        "--record", help="put the message on the timeline as a public update")] = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Render the initial, update or resolution message; --record puts it on the timeline."""
    app_state.json_errors = as_json
    policy = app_state.project().spec.incidents
    at = now()
    with app_state.runtime().db.session() as s:
        row = service.get(session=s, incident_id=incident_id)
        chosen = comms.check_kind(kind) if kind else comms.default_kind(row)
        if record:
            rendered, _ = comms.record(session=s, policy=policy, incident=row, kind=chosen,
                                       actor=actor or default_actor(), at=at,
                                       message=message, eta=eta)
        else:
            rendered = comms.render(session=s, policy=policy, incident=row, kind=chosen,
                                    at=at, message=message, eta=eta)
    if as_json:
        print_json({"incident_id": row.id, "kind": rendered.kind, "subject": rendered.subject,
                    "body": rendered.body, "recorded": record})
        return
    console.print(rendered.text, markup=False, end="")
    if record:
        console.print(f"\n(recorded on {row.id}'s timeline as a public update)", markup=False,
                      style="dim")


@incident_app.command("postmortem")
def postmortem_(
    incident_id: IncidentId,
    write: Annotated[Path | None, typer.Option(
        "--write", help="write the Markdown to this file instead of printing it")] = None,
    edit_from: Annotated[Path | None, typer.Option(
        "--edit-from", help="replace the post-mortem with this edited Markdown file")] = None,
    confirm: Annotated[list[str] | None, typer.Option(
        "--confirm", help="confirm a post-incident checklist item (by its id; "
        "repeatable)")] = None,
    comment: Annotated[str | None, typer.Option(help="recorded with --confirm")] = None,
    publish: Annotated[bool, typer.Option(
        "--publish", help="publish it (the incident can then be closed)")] = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Show, edit, confirm the checklist of, and publish the post-mortem (drafted on resolve)."""
    app_state.json_errors = as_json
    spec = app_state.project().spec
    edited = _read(edit_from) if edit_from else None
    who, at = actor or default_actor(), now()
    with app_state.runtime().db.session() as s:
        row = service.get(session=s, incident_id=incident_id)
        items = postmortem.checklist_items(spec.checklists, row)
        if (postmortem.find(session=s, incident_id=row.id) is None
                and row.status in (lifecycle.RESOLVED, lifecycle.CLOSED)):
            # resolved before drafts existed, or by a caller without the policy
            postmortem.ensure_draft(session=s, policy=spec.incidents, incident=row, at=at)
        if edited is not None:
            postmortem.edit(session=s, incident=row, body=edited, actor=who, at=at)
        if confirm:
            postmortem.confirm(session=s, incident=row, items=items, confirm_ids=confirm,
                               actor=who, at=at, comment=comment)
        if publish:
            postmortem.publish(session=s, incident=row, actor=who, at=at)
        pm = postmortem.get(session=s, incident=row)
        document = postmortem.render(session=s, incident=row, at=at, items=items)
        checklist = [i.as_dict() for i in postmortem.checklist_state(
            session=s, incident=row, items=items)]
        data: dict[str, Any] = {
            "incident_id": row.id, "status": pm.status, "due_at": pm.due_at,
            "published_at": pm.published_at, "body": pm.body, "document": document,
            "checklist": checklist,
            "action_items": [actions.item_dict(a, at) for a in actions.listing(
                session=s, incident_id=row.id)]}
    if write is not None:
        write.write_text(document, encoding="utf-8")
    if as_json:
        print_json(data)
    elif write is not None:
        console.print(f"wrote the post-mortem of {row.id} ({pm.status}) to {write}; edit it, "
                      f"then `rollgate incident postmortem {row.id} --edit-from {write}`",
                      markup=False)
    else:
        console.print(document, markup=False, end="")
    if publish and not as_json:
        console.print(f"published the post-mortem of {row.id}; `rollgate incident close "
                      f"{row.id}` closes the incident", markup=False)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


@action_app.command("add")
def action_add(
    incident_id: IncidentId,
    title: Annotated[str, typer.Argument(help="what will be done")],
    owner: Annotated[str, typer.Option("--owner", "-o", help="who does it")],
    due: Annotated[str | None, typer.Option(
        "--due", help="7d, 36h (from now), a date (2025-01-10) or a time")] = None,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Add an action item to an incident."""
    app_state.json_errors = as_json
    at = now()
    with app_state.runtime().db.session() as s:
        row = service.get(session=s, incident_id=incident_id)
        item = actions.add(session=s, incident=row, title=title, owner=owner, due=due,
                           actor=actor or default_actor(), at=at)
        data = actions.item_dict(item, at)
    if as_json:
        print_json(data)
        return
    console.print(f"action item #{item.id} on {row.id}: {item.title} (owner {item.owner}, "
                  f"due {ts(item.due_at)})", markup=False)


@action_app.command("done")
def action_done(
    item_id: Annotated[int, typer.Argument(metavar="ID", help="the action item's number")],
    actor: Actor = None,
) -> None:
    """Mark an action item done."""
    with app_state.runtime().db.session() as s:
        item = actions.done(session=s, item_id=item_id, actor=actor or default_actor(),
                            at=now())
    console.print(f"action item #{item.id} done: {item.title}", markup=False)


@action_app.command("list")
def action_list(
    incident_id: Annotated[str | None, typer.Argument(
        metavar="[INCIDENT]", help="one incident's (default: open items of every "
        "incident)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="done ones too")] = False,
    as_json: Json = False,
) -> None:
    """Action items, soonest due first."""
    at = now()
    with app_state.runtime().db.read() as s:
        if incident_id is not None:
            incident_id = service.get(session=s, incident_id=incident_id).id
        rows = actions.listing(session=s, incident_id=incident_id,
                               open_only=not all_ and incident_id is None)
    if as_json:
        print_json([actions.item_dict(r, at) for r in rows])
        return
    if not rows:
        console.print("no action items")
        return
    table = Table(header_style="bold")
    for col in ("#", "incident", "action", "owner", "due", "state"):
        table.add_column(col)
    style = {"done": "dim", "overdue": "red", "open": ""}
    for r in rows:
        state = actions.state(r, at)
        table.add_row(str(r.id), r.incident_id, r.title, r.owner, ts(r.due_at), state,
                      style=style[state])
    console.print(table)
