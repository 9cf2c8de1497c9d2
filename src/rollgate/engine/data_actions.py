"""Workflow actions on databases: migration plan check, backup, migrate, undo, verify, restore,
and maintenance mode on the public port. Each is idempotent, like every action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollgate.data import catalog, migrations
from rollgate.data.target import DataTarget
from rollgate.engine.actions import ActionContext, action
from rollgate.errors import DataError, RefusedError
from rollgate.store import backups as backup_store


def data_target(ctx: ActionContext, database: str) -> DataTarget:
    """The run's database in the run's environment."""
    return DataTarget.resolve(ctx.spec, Path(ctx.run.spec_dir), ctx.target.state_dir, database,
                              ctx.run.environment)


@action("db-plan")
def db_plan(ctx: ActionContext, database: str, allow_destructive: bool) -> dict[str, Any]:
    """List pending migrations; refuse a plan that destroys data unless it is allowed."""
    t = data_target(ctx, database)
    state = migrations.status(t)
    ctx.say(f"{t.label}: revision {state.current or 'none'}")
    if state.kind == "alembic" and not state.pending:
        ctx.say("no pending migrations")
        return {"pending": 0, "current": state.current}
    for line in state.pending:
        ctx.say(f"pending {line}")
    count = len(state.pending) if state.kind == "alembic" else None
    try:
        sql = migrations.plan_sql(t)
    except DataError as exc:
        if not allow_destructive:
            raise RefusedError(
                f"cannot check the migration plan of {t.label} for destructive changes: "
                f"{exc.message}. Nothing was changed. If you have reviewed the migrations, "
                "deploy again with --allow-destructive") from None
        ctx.say(f"could not print the plan ({exc.message}); allowed by --allow-destructive")
        return {"pending": count, "current": state.current}
    if sql is None:
        ctx.say("no plan command: the non-destructive check cannot read these migrations")
        return {"pending": count, "current": state.current}
    found = migrations.destructive(sql)
    if found and not allow_destructive:
        raise RefusedError(
            f"the migration plan of {t.label} would destroy data: {'; '.join(found)}. "
            "Nothing was changed. If that is intended, deploy again with --allow-destructive "
            "(a backup is taken first)"
        )
    ctx.say("destructive changes allowed: " + "; ".join(found) if found
            else "non-destructive: no table or column is dropped or rewritten")
    return {"pending": count, "current": state.current, "destructive": found}


@action("backup")
def backup(ctx: ActionContext, database: str, reason: str) -> dict[str, Any]:
    """Back up a database for this run (a retried step reuses the backup it already took)."""
    t = data_target(ctx, database)
    with ctx.db.session() as s:
        done = backup_store.of_run(session=s, run_id=ctx.run.id, database=database)
    row = done or catalog.create(ctx.db, t, actor=ctx.run.actor, reason=reason,
                                 run_id=ctx.run.id, service=ctx.run.service,
                                 version=ctx.run.from_version)
    ctx.say(f"{row.id}: {catalog.human_size(row.size)} in {row.duration_ms} ms, sha256 "
            f"{row.sha256[:12]}…, revision {row.schema_revision or 'none'}; {row.check_summary}")
    return {"backup_id": row.id, "revision": row.schema_revision}


@action("migrate")
def migrate(ctx: ActionContext, database: str) -> dict[str, Any]:
    """Apply the pending migrations."""
    t = data_target(ctx, database)
    before = migrations.current_revision(t)
    out = migrations.apply(t)
    if out.strip():
        ctx.say(out.strip())
    after = migrations.current_revision(t)
    ctx.say(f"{t.label}: revision {before or 'none'} -> {after or 'none'}")
    return {"before": before, "after": after}


@action("undo-migrate")
def undo_migrate(ctx: ActionContext, database: str, backup_id: str | None,
                 revision: str | None) -> dict[str, Any]:
    """After a failed migration: restore the pre-migration backup, or downgrade."""
    t = data_target(ctx, database)
    assert t.config.migrations is not None
    if t.config.migrations.on_failure == "downgrade":
        out = migrations.downgrade(t, revision)
        if out.strip():
            ctx.say(out.strip())
        ctx.say(f"downgraded {t.label} to {revision or 'base'}")
        return {"how": "downgrade"}
    if backup_id is None:
        raise RefusedError(f"no pre-migration backup of {t.label} to restore")
    checked = catalog.restore(ctx.db, t, backup_id)
    ctx.say(f"restored {backup_id} ({checked.summary})")
    return {"how": "restore"}


@action("verify-backup")
def verify_backup(ctx: ActionContext, database: str, backup_id: str) -> dict[str, Any]:
    """Re-check a backup before anything is touched."""
    checked = catalog.verify(ctx.db, data_target(ctx, database), backup_id)
    ctx.say(f"{backup_id}: {checked.summary}")
    return {"revision": checked.row.schema_revision}


@action("restore")
def restore(ctx: ActionContext, database: str, backup_id: str) -> dict[str, Any]:
    """Replace the database's content with a backup (checksum re-checked first)."""
    t = data_target(ctx, database)
    checked = catalog.restore(ctx.db, t, backup_id)
    ctx.say(f"restored {backup_id} into {t.label} ({checked.summary})")
    return {}


@action("maintenance")
def maintenance(ctx: ActionContext, message: str | None) -> dict[str, Any]:
    """Answer 503 with a message on the public port (message None: serve traffic again)."""
    ctx.target.set_maintenance(message)
    ctx.say(f"maintenance on: {message}" if message else "maintenance off: traffic resumes")
    return {}
