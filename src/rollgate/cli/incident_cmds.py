"""rollgate incident open | list | show | status | resolve | close | reopen | note | assign |
ack | level | link: run an incident from the terminal (seed 000 §3, seed 002's process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json, ts
from rollgate.errors import UsageError
from rollgate.incidents import lifecycle, service, views
from rollgate.runs.service import default_actor
from rollgate.spec.incidents import IncidentPolicy
from rollgate.spec.severity import SIGNALS
from rollgate.store.runs import now
from rollgate.store.tables import Incident

incident_app = typer.Typer(help="Incidents: open, run, resolve and learn from them.",
                           no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="print JSON")]
IncidentId = Annotated[str, typer.Argument(metavar="INCIDENT",
                                           help="incident id or channel (#inc-…)")]
Actor = Annotated[str | None, typer.Option("--as", help="who is acting (default: you)")]
T = TypeVar("T")

STATUS_STYLE = {"investigating": "red", "identified": "yellow", "mitigating": "yellow",
                "resolved": "green", "closed": "dim"}


def register(app: typer.Typer) -> None:
    """Add the incident command group to the app (with the commands other modules attach)."""
    import rollgate.cli.incident_followup_cmds  # noqa: F401
    from rollgate.cli import incident_timer_cmds  # noqa: F401
    app.add_typer(incident_app, name="incident")


def policy() -> IncidentPolicy:
    """The incident policy of the spec."""
    return app_state.project().spec.incidents


def change(incident_id: str, act: Callable[[Session, Incident], T]) -> tuple[Incident, T]:
    """Run ``act`` on the incident in one transaction; return the incident and its result."""
    with app_state.runtime().db.session() as s:
        row = service.get(session=s, incident_id=incident_id)
        return row, act(s, row)


def parse_signals(pairs: list[str]) -> dict[str, Any]:
    """``error_rate=0.12``, ``component_down`` (true), ``security=false`` as signals."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, has_value, value = pair.partition("=")
        name = name.strip().replace("-", "_")
        if name not in SIGNALS:
            raise UsageError(f"unknown signal {name!r}; signals: {', '.join(SIGNALS)}")
        if not has_value or value.lower() in ("true", "yes"):
            out[name] = True
        elif value.lower() in ("false", "no"):
            out[name] = False
        else:
            try:
                number = float(value.rstrip("%"))
            except ValueError:
                raise UsageError(f"signal {name}={value!r}: give a number (0.12 or 12%), "
                                 "true or false") from None
            out[name] = number / 100 if value.endswith("%") else number
    return out


@incident_app.command("open")
def open_(
    title: Annotated[str, typer.Argument(help="what is broken, e.g. \"Checkout down\"")],
    sev: Annotated[str | None, typer.Option("--sev", "--level", help="level: SEV1, P0 or 1 "
                                            "(default: from --signal, else the least "
                                            "severe)")] = None,
    signal: Annotated[list[str] | None, typer.Option(
        "--signal", help=f"what is observed, picks the level by the policy's rules: "
                         f"{', '.join(SIGNALS)} (error_rate=12%, component_down)")] = None,
    service_: Annotated[str | None, typer.Option("--service", "-s",
                                                 help="affected service")] = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="environment")] = None,
    summary: Annotated[str | None, typer.Option(help="user-facing impact")] = None,
    playbook: Annotated[str | None, typer.Option(help="a playbook of the spec (default: "
                                                 "the one whose keywords match)")] = None,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Open an incident: level, channel, first page, recommended action and playbook."""
    app_state.json_errors = as_json
    project = app_state.project()
    project.check_target(service_, env)
    signals = parse_signals(signal or [])
    with app_state.runtime().db.session() as s:
        row = service.open_incident(
            session=s, policy=project.spec.incidents, title=title, level=sev,
            signals=signals, service=service_, environment=env, summary=summary,
            playbook=playbook, actor=actor or default_actor(), at=now())
        detail = views.incident_detail(s, row)
    if as_json:
        print_json(detail)
        return
    console.print(f"opened {row.id} {row.level}: {row.title} — channel {row.channel}",
                  markup=False)
    for event in detail["timeline"][1:]:
        console.print(f"  • {event['text']}", markup=False)


@incident_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="resolved and closed ones too")] = False,
    service_: Annotated[str | None, typer.Option("--service", "-s")] = None,
    env: Annotated[str | None, typer.Option("--env", "-e")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Json = False,
) -> None:
    """Incidents, newest first (open ones unless --all)."""
    with app_state.runtime().db.read() as s:
        rows = service.listing(session=s, status=None if all_ else lifecycle.OPEN,
                               service=service_, environment=env, limit=limit)
    if as_json:
        print_json([views.incident_dict(r) for r in rows])
        return
    if not rows:
        console.print("no open incidents" if not all_ else "no incidents")
        return
    table = Table(header_style="bold")
    for col in ("id", "level", "status", "title", "where", "opened", "ack", "channel"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.level or f"#{r.severity}", r.status, Text(r.title),
                      "/".join(x for x in (r.service, r.environment) if x) or "*",
                      ts(r.opened_at), r.acknowledged_by or "-", r.channel or "-",
                      style=STATUS_STYLE.get(r.status, ""))
    console.print(table)


@incident_app.command("show")
def show(incident_id: IncidentId, as_json: Json = False) -> None:
    """An incident: level, status, roles, links and its timeline."""
    from rollgate.incidents import timers

    pol = policy()
    with app_state.runtime().db.read() as s:
        row = service.get(session=s, incident_id=incident_id)
        detail = views.incident_detail(s, row)
        coming = timers.next_due(s, pol, row, now())
    detail["timers"] = [{"timer": d.timer, "due": d.due, "what": d.what, "to": d.to}
                        for d in coming]
    if as_json:
        print_json(detail)
        return
    where = "/".join(x for x in (row.service, row.environment) if x) or "everywhere"
    console.print(f"{row.id}  {row.level}  {row.status}  {row.title}", markup=False,
                  style="bold")
    console.print(f"  where {where} · channel {row.channel} · opened {ts(row.opened_at)} by "
                  f"{row.opened_by} · source {row.source}", markup=False)
    if row.summary:
        console.print(f"  impact: {row.summary}", markup=False)
    ack = (f"acknowledged by {row.acknowledged_by} at {ts(row.acknowledged_at)}"
           if row.acknowledged_at else "not acknowledged")
    console.print(f"  {ack}; resolved {ts(row.resolved_at)}", markup=False)
    if detail["roles"]:
        console.print("  roles: " + ", ".join(f"{k}={v}" for k, v in detail["roles"].items()),
                      markup=False)
    if detail["links"]:
        console.print("  links: " + ", ".join(f"{lk['kind']} {lk['ref']}"
                                              for lk in detail["links"]), markup=False)
    for d in coming[:5]:
        whom = "" if d.to in d.what else f" ({d.to})"
        console.print(f"  next at {ts(d.due)}: {d.what}{whom}", markup=False)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("at", "who", "what", ""):
        table.add_column(col, overflow="fold")
    for e in detail["timeline"]:
        table.add_row(ts(e["at"]), Text(e["actor"]), e["kind"],
                      Text(e["text"] + ("  (public)" if e["public"] else "")))
    console.print(table)


def _moved(incident_id: str, to: str, note: str | None, public: bool,
           actor: str | None, force: bool = False) -> Incident:
    pol = policy()
    row, _ = change(incident_id, lambda s, inc: service.move(
        session=s, policy=pol, incident=inc, to=to, actor=actor or default_actor(), at=now(),
        note=note, public=public, force=force))
    console.print(f"{row.id} is {row.status}", markup=False)
    return row


Note = Annotated[str | None, typer.Option("--note", "-m", help="what changed")]
Public = Annotated[bool, typer.Option("--public", help="the note is a public update too "
                                      "(status page, customers)")]


@incident_app.command("status")
def status(
    incident_id: IncidentId,
    to: Annotated[str, typer.Argument(help="investigating, identified or mitigating")],
    note: Note = None, public: Public = False, actor: Actor = None,
) -> None:
    """Move an open incident to another open status."""
    if to not in lifecycle.OPEN:
        raise UsageError(f"status {to!r}: use investigating, identified or mitigating here; "
                         "`rollgate incident resolve|close|reopen` for the rest")
    _moved(incident_id, to, note, public, actor)


@incident_app.command("resolve")
def resolve(incident_id: IncidentId, note: Note = None, public: Public = False,
            actor: Actor = None) -> None:
    """Resolve: the impact is over (the post-mortem draft and its due date follow)."""
    row = _moved(incident_id, lifecycle.RESOLVED, note, public, actor)
    if row.postmortem_due_at:
        console.print(f"post-mortem due {ts(row.postmortem_due_at)}: `rollgate incident "
                      f"postmortem {row.id}`", markup=False)


@incident_app.command("close")
def close(incident_id: IncidentId, note: Note = None, actor: Actor = None,
          force: Annotated[bool, typer.Option(
              "--force", help="close although the post-mortem is not published (said on "
              "the timeline)")] = False) -> None:
    """Close a resolved incident (once its post-mortem is published)."""
    _moved(incident_id, lifecycle.CLOSED, note, False, actor, force)


@incident_app.command("reopen")
def reopen(incident_id: IncidentId,
           note: Annotated[str, typer.Option("--note", "-m", help="why it is back")],
           actor: Actor = None) -> None:
    """Reopen a resolved or closed incident (back to investigating)."""
    _moved(incident_id, lifecycle.INVESTIGATING, note, False, actor)


@incident_app.command("note")
def note_(incident_id: IncidentId,
          text: Annotated[str, typer.Argument(help="the update")],
          public: Public = False, actor: Actor = None) -> None:
    """Add an update to the timeline (resets the update reminder)."""
    row, _ = change(incident_id, lambda s, inc: service.note(
        session=s, incident=inc, text=text, actor=actor or default_actor(), at=now(),
        public=public))
    console.print(f"noted on {row.id}" + (" (public)" if public else ""), markup=False)


@incident_app.command("assign")
def assign(incident_id: IncidentId,
           role: Annotated[str, typer.Argument(help="ic (commander), ops, app, comms, scribe")],
           person: Annotated[str, typer.Argument(help="who takes it")],
           actor: Actor = None) -> None:
    """Give a role to a person (or hand it over)."""
    _, event = change(incident_id, lambda s, inc: service.assign(
        session=s, incident=inc, role=role, person=person, actor=actor or default_actor(),
        at=now()))
    console.print(event.text, markup=False)


@incident_app.command("ack")
def ack(incident_id: IncidentId, actor: Actor = None) -> None:
    """Acknowledge the page: escalation stops."""
    row, event = change(incident_id, lambda s, inc: service.acknowledge(
        session=s, incident=inc, actor=actor or default_actor(), at=now()))
    console.print(event.text if event else f"{row.id} was acknowledged already by "
                  f"{row.acknowledged_by}", markup=False)


@incident_app.command("level")
def level(incident_id: IncidentId,
          to: Annotated[str, typer.Argument(help="the new level: SEV1, P0 or 1")],
          reason: Annotated[str | None, typer.Option("--reason", "-m")] = None,
          actor: Actor = None) -> None:
    """Change the level (its response and update clocks apply from now)."""
    pol = policy()
    _, event = change(incident_id, lambda s, inc: service.set_level(
        session=s, policy=pol, incident=inc, level=to, actor=actor or default_actor(),
        at=now(), reason=reason))
    console.print(event.text, markup=False)


@incident_app.command("link")
def link(incident_id: IncidentId,
         run: Annotated[str, typer.Option("--run", help="a run id (deploy or rollback)")],
         actor: Actor = None) -> None:
    """Tie a run (a deploy that caused it, a rollback that mitigated it) to the incident."""
    from rollgate.store import runs as run_store

    def act(s: Session, inc: Incident) -> object:
        found = run_store.get_run(session=s, run_id=run)
        kind = "rollback" if found.kind == "rollback" else "run"
        return service.link(session=s, incident=inc, kind=kind, ref=run,
                            actor=actor or default_actor(), at=now())

    row, event = change(incident_id, act)
    console.print(f"linked {run} to {row.id}" if event else f"{run} was linked already",
                  markup=False)
