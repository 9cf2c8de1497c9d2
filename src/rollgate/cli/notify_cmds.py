"""rollgate notifications list | resend | send: the outbox of messages to Slack,
webhooks, PagerDuty and e-mail, its dead letters, and a delivery pass for cron."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json, ts
from rollgate.errors import UsageError
from rollgate.notify import maintenance, outbox
from rollgate.runs.service import default_actor
from rollgate.store.runs import now

notify_app = typer.Typer(help="Notifications: what went out, what failed, send again.",
                         no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="print JSON")]
ROUNDS = 20  # a send pass stops after this many rounds even if more keeps coming


def register(app: typer.Typer) -> None:
    """Add the notifications command group to the app."""
    app.add_typer(notify_app, name="notifications")


@notify_app.command("list")
def list_notifications(
    failed: Annotated[bool, typer.Option("--failed",
                                         help="only dead-lettered messages")] = False,
    state: Annotated[str | None, typer.Option(
        help="pending, sending, delivered or dead")] = None,
    channel: Annotated[str | None, typer.Option(help="only this channel")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Json = False,
) -> None:
    """Messages, newest first: channel, event, state, attempts and the last error."""
    app_state.json_errors = as_json
    if state is not None and state not in outbox.STATES:
        raise UsageError(f"unknown state {state!r}; states: {', '.join(outbox.STATES)}")
    with app_state.runtime().db.session() as s:
        rows = outbox.listing(session=s, state="failed" if failed else state,
                              channel=channel, limit=limit)
        data = [outbox.message_dict(n, e) for n, e in rows]
    if as_json:
        print_json(data)
        return
    if not data:
        console.print("no dead-lettered messages" if failed else "no messages")
        return
    table = Table("id", "channel", "event", "state", "tries", "when", "subject / last error")
    for d in data:
        when = d["delivered_at"] or d["dead_at"] or d["next_attempt_at"]
        detail = d["subject"] + (f"\n{d['last_error']}" if d["last_error"] and
                                 d["state"] != "delivered" else "")
        table.add_row(str(d["id"]), d["channel"], d["event"], d["state"],
                      str(d["attempts"]), ts(when), detail)
    console.print(table)
    if failed:
        console.print("send one again: rollgate notifications resend ID")


@notify_app.command("resend")
def resend(
    ids: Annotated[list[int], typer.Argument(metavar="ID...", help="message ids")],
    as_json: Json = False,
) -> None:
    """Send dead-lettered messages again (same idempotency key, fresh attempt count); the
    server's worker, or `rollgate notifications send`, delivers them."""
    app_state.json_errors = as_json
    actor = default_actor()
    with app_state.runtime().db.session() as s:
        rows = [outbox.resend(session=s, notification_id=i, actor=actor) for i in ids]
        out = [{"id": r.id, "channel": r.channel, "state": r.state} for r in rows]
    if as_json:
        print_json(out)
        return
    for r in out:
        console.print(f"notification {r['id']} ({r['channel']}): queued again")


@notify_app.command("send")
def send(as_json: Json = False) -> None:
    """Route new events and deliver what is due now, then exit (cron, or a CLI-only setup
    without `rollgate serve`); maintenance reminders due now are written first."""
    app_state.json_errors = as_json
    rt, project = app_state.runtime(), app_state.project()
    with rt.db.session() as s:
        maintenance.tick(s, project.spec.notifications.maintenance_reminders, now())
    total = outbox.Outcome()
    with httpx.Client() as client:
        for _ in range(ROUNDS):
            done = outbox.run_pass(rt.db, project.spec, worker=rt.executor_id, client=client)
            total.delivered += done.delivered
            total.retrying += done.retrying
            total.dead += done.dead
            if done.total == 0:
                break
    out = {"delivered": total.delivered, "retrying": total.retrying, "dead": total.dead}
    if as_json:
        print_json(out)
        return
    console.print(f"delivered {total.delivered}, retrying later {total.retrying}, "
                  f"dead-lettered {total.dead}")
    if total.dead:
        console.print("see them: rollgate notifications list --failed")
