"""backup create|list|show|verify|restore|prune|keep, db status, maintenance on|off|status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.render import console, follow, print_json
from rollgate.data import catalog
from rollgate.data import service as data
from rollgate.errors import UsageError
from rollgate.runs import service
from rollgate.store import backups as backup_store
from rollgate.store import runs as run_store

Env = Annotated[str, typer.Option("--env", "-e", help="environment")]
OptEnv = Annotated[str | None, typer.Option("--env", "-e", help="environment")]
Db = Annotated[str | None, typer.Option("--database", "-d",
                                        help="database (default: the spec's only one)")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]

backup_app = typer.Typer(help="Backups: create, list, show, verify, restore, prune.",
                         no_args_is_help=True)
db_app = typer.Typer(help="Database schema: status of migrations and backups.",
                     no_args_is_help=True)
maintenance_app = typer.Typer(help="Maintenance mode: the public port answers 503.",
                              no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the data command groups to the app."""
    app.add_typer(backup_app, name="backup")
    app.add_typer(db_app, name="db")
    app.add_typer(maintenance_app, name="maintenance")


@backup_app.command("create")
def backup_create(
    env: Env, database: Db = None,
    reason: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="never prune this backup")] = False,
    as_json: Json = False,
) -> None:
    """Back up a database now, check it and record it in the catalog."""
    app_state.json_errors = as_json
    rt = app_state.runtime()
    row = data.create_backup(rt, app_state.project(), environment=env, database=database,
                             actor=service.default_actor(), reason=reason, keep=keep)
    if as_json:
        print_json(catalog.meta(row))
        return
    console.print(f"{row.id}: {row.database}/{row.environment}, {catalog.human_size(row.size)}"
                  f" in {row.duration_ms} ms, revision {row.schema_revision or 'none'}",
                  markup=False)
    console.print(f"  {row.location}\n  sha256 {row.sha256}\n  {row.check_summary}",
                  markup=False)


@backup_app.command("list")
def backup_list(env: OptEnv = None, database: Db = None, as_json: Json = False) -> None:
    """Backups, newest first, with their retention state."""
    rt = app_state.runtime()
    with rt.db.session() as s:
        rows = backup_store.listing(session=s, database=database, environment=env)
        protected = backup_store.rollback_points(
            session=s, environments={r.environment for r in rows})
    if as_json:
        print_json([{**catalog.meta(r), "rollback_point": r.id in protected} for r in rows])
        return
    if not rows:
        console.print("no backups yet: `rollgate backup create --env ENV`")
        return
    table = Table(box=None, header_style="bold")
    for col in ("id", "database", "env", "size", "revision", "age", "retention", "run", "why"):
        table.add_column(col, overflow="fold")
    for r in rows:
        state = r.retention + (" (rollback point)" if r.id in protected else "")
        table.add_row(r.id, r.database, r.environment, catalog.human_size(r.size),
                      r.schema_revision or "-", data.age(r.created_at), state, r.run_id or "-",
                      r.reason or "-")
    console.print(table)


@backup_app.command("show")
def backup_show(backup_id: Annotated[str, typer.Argument(metavar="ID")],
                as_json: Json = False) -> None:
    """Everything the catalog knows of one backup."""
    app_state.json_errors = as_json
    rt = app_state.runtime()
    with rt.db.session() as s:
        row = backup_store.get(session=s, backup_id=backup_id)
    info = catalog.meta(row)
    if as_json:
        print_json(info)
        return
    for key, value in info.items():
        console.print(f"{key:>16}  {'-' if value is None else value}", markup=False)


@backup_app.command("verify")
def backup_verify(backup_id: Annotated[str, typer.Argument(metavar="ID")],
                  as_json: Json = False) -> None:
    """Re-check a backup: size, sha256 and its engine's own check."""
    app_state.json_errors = as_json
    rt = app_state.runtime()
    _, t = data.backup_target(rt, app_state.project(), backup_id)
    checked = catalog.verify(rt.db, t, backup_id)
    if as_json:
        print_json({"id": backup_id, "ok": True, "summary": checked.summary})
        return
    console.print(f"{backup_id}: ok — {checked.summary}", markup=False)


@backup_app.command("restore")
def backup_restore(
    backup_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    as_json: Json = False,
) -> None:
    """Restore a backup into its database (behind maintenance mode when a service is live)."""
    app_state.json_errors = as_json
    project = app_state.project()
    rt = app_state.runtime()
    row, t = data.backup_target(rt, project, backup_id)
    live = data.live_service(rt, project, row.database, row.environment)
    if live:
        plan = service.plan_rollback(rt, project, service=live, environment=row.environment,
                                     scope="db", backup_id=backup_id)
        impact = plan.impact
    else:
        impact = [f"all data written to {t.label} since {row.created_at:%Y-%m-%d %H:%M:%S} "
                  f"UTC will be lost"]
    if not yes:
        if not console.is_terminal:
            raise UsageError("restore needs confirmation: add --yes when not on a terminal")
        for line in impact:
            console.print(f"  • {line}", markup=False, soft_wrap=True)
        typer.confirm(f"Restore {backup_id} into {t.label}?", abort=True)
    if not live:
        data.restore_now(rt, project, backup_id, actor=service.default_actor(), reason=reason)
        if as_json:
            print_json({"id": backup_id, "restored": True})
        else:
            console.print(f"restored {backup_id} into {t.label}", markup=False)
        return
    run_id = service.rollback(rt, project, service=live, environment=row.environment, to=None,
                              reason=reason, actor=service.default_actor(), scope="db",
                              backup_id=backup_id)
    run = follow(rt, run_id, quiet=as_json)
    if as_json:
        print_json({"id": backup_id, "run": run_id, "status": run.status})
    if run.status != run_store.SUCCEEDED:
        raise typer.Exit(1)


@backup_app.command("prune")
def backup_prune(
    env: Env, database: Db = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would go")] = False,
    as_json: Json = False,
) -> None:
    """Delete backups beyond the retention policy (keep and rollback points always stay)."""
    app_state.json_errors = as_json
    rt = app_state.runtime()
    t = data.data_target(rt, app_state.project(), database, env)
    decisions = catalog.prune(rt.db, t, dry_run=dry_run)
    if as_json:
        print_json([{"id": d.row.id, "pruned": d.prune and not dry_run, "prune": d.prune,
                     "why": d.why} for d in decisions])
        return
    verb = "would prune" if dry_run else "pruned"
    for d in decisions:
        console.print(f"{d.row.id}: {verb if d.prune else 'kept'} ({d.why})", markup=False)
    gone = sum(d.prune for d in decisions)
    console.print(f"{gone} {verb}, {len(decisions) - gone} kept", markup=False)


@backup_app.command("keep")
def backup_keep(
    backup_id: Annotated[str, typer.Argument(metavar="ID")],
    off: Annotated[bool, typer.Option("--off", help="let retention prune it again")] = False,
) -> None:
    """Mark a backup keep: prune never deletes it."""
    rt = app_state.runtime()
    row = catalog.set_retention(rt.db, backup_id, backup_store.VALID if off
                                else backup_store.KEEP)
    console.print(f"{row.id}: {row.retention}", markup=False)


@db_app.command("status")
def db_status(env: Env, database: Db = None, as_json: Json = False) -> None:
    """Current revision, pending migrations, last backup and its age."""
    app_state.json_errors = as_json
    rt = app_state.runtime()
    info = data.db_status(rt, app_state.project(), environment=env, database=database)
    if as_json:
        print_json(info)
        return
    console.print(f"[bold]{info['database']}[/] in {env} ({info['engine']})")
    mig = info["migrations"]
    if mig is None:
        console.print("  migrations: none configured")
    elif "error" in mig:
        console.print(f"  migrations: {mig['error']}", style="red", markup=False)
    else:
        console.print(f"  revision:   {mig['current'] or 'none (not migrated)'}", markup=False)
        if mig["kind"] == "alembic":
            console.print(f"  pending:    {len(mig['pending'])} to {mig['target']}",
                          markup=False)
            for line in mig["pending"]:
                console.print(f"              {line}", markup=False)
        if mig.get("detail"):
            console.print(f"  status:     {mig['detail']}", markup=False)
    last = info["last_backup"]
    if last is None:
        console.print("  last backup: none", style="yellow")
    else:
        created = datetime.fromisoformat(last["created_at"])
        console.print(f"  last backup: {last['id']} ({data.age(created)} ago, "
                      f"{catalog.human_size(last['size'])}, revision "
                      f"{last['schema_revision'] or 'none'}); {info['backups']} kept",
                      markup=False)


@maintenance_app.command("on")
def maintenance_on(
    service_name: Annotated[str, typer.Argument(metavar="SERVICE")], env: Env,
    message: Annotated[str | None, typer.Option(help="what users see")] = None,
) -> None:
    """Answer 503 with a message on the service's public port (seed 001 MAINTENANCE_MODE)."""
    project = app_state.project()
    db = project.spec.services.get(service_name)
    default = (project.spec.databases[db.database].maintenance_message
               if db and db.database else "Scheduled maintenance: back soon.")
    state = data.set_maintenance(app_state.runtime(), project, service=service_name,
                                 environment=env, message=message or default,
                                 actor=service.default_actor())
    console.print(f"{service_name} in {env}: maintenance on ({(state or {}).get('message')})",
                  markup=False)


@maintenance_app.command("off")
def maintenance_off(service_name: Annotated[str, typer.Argument(metavar="SERVICE")],
                    env: Env) -> None:
    """Serve traffic again."""
    data.set_maintenance(app_state.runtime(), app_state.project(), service=service_name,
                         environment=env, message=None, actor=service.default_actor())
    console.print(f"{service_name} in {env}: maintenance off, traffic resumes", markup=False)


@maintenance_app.command("status")
def maintenance_status(service_name: Annotated[str, typer.Argument(metavar="SERVICE")],
                       env: Env, as_json: Json = False) -> None:
    """Whether the public port is in maintenance, since when and with which message."""
    project = app_state.project()
    project.check_target(service_name, env)
    state = project.target(app_state.runtime(), service_name, env).maintenance()
    if as_json:
        print_json({"maintenance": state})
        return
    console.print(f"{service_name} in {env}: " + (f"maintenance on: {state.get('message')}"
                                                  if state else "serving traffic"),
                  markup=False)
