"""Database steps of a run: back up and migrate before a deploy (restoring on a failed
migration), and the db-only and full rollbacks that restore a backup behind maintenance mode.

The rule while maintenance is on: when a step fails, the service stays in maintenance (its
data may be half-restored) and the error says how to turn it off once checked.
"""

from __future__ import annotations

from rollgate.strategies.base import Pipeline, StepFailed


class DataFailure(Exception):
    """The run ends failed for a database reason; ``undone`` when the data was put back."""

    def __init__(self, reason: str, undone: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.undone = undone


def _maintenance_hint(p: Pipeline) -> str:
    return (f"{p.plan.service} stays in maintenance mode (503) until someone checks the "
            f"database and runs `rollgate maintenance off {p.plan.service} --env "
            f"{p.plan.environment}`")


def before_deploy(p: Pipeline) -> None:
    """Check the migration plan, back up, migrate; undo a failed migration and stop the run."""
    plan = p.plan
    db = str(plan.database)
    pending = True
    if plan.migrations:
        checked = p.step(f"check migration plan of {db}", "db-plan", database=db,
                         allow_destructive=bool(plan.params.get("allow_destructive")))
        pending = checked.get("pending") != 0  # None: commands cannot tell, so they run
    revision = None
    if plan.migrations or plan.backup_on_deploy:
        label = f"back up {db}" + (" before migrating" if plan.migrations else "")
        out = p.step(label, "backup", database=db, reason=f"before deploying {plan.version}")
        p.backup_id, revision = out["backup_id"], out.get("revision")
    if not plan.migrations or not pending:
        return
    try:
        done = p.step(f"migrate {db}", "migrate", database=db)
    except StepFailed as failed:
        if failed.cancelled:
            raise
        _undo_migration(p, failed, revision)
    p.migrated = done.get("before") != done.get("after") or done.get("after") is None


def _undo_migration(p: Pipeline, failed: StepFailed, revision: str | None) -> None:
    plan = p.plan
    db = str(plan.database)
    p.cleanup = True
    reason = f"{failed.step} failed: {failed.error}"
    how = (f"downgrade {db} to {revision or 'base'}" if plan.on_failure == "downgrade"
           else f"restore {db} from {p.backup_id}")
    try:
        p.step("maintenance on", "maintenance", message=plan.maintenance_message)
        p.step(how, "undo-migrate", database=db, backup_id=p.backup_id, revision=revision)
        p.step("maintenance off", "maintenance", message=None)
    except StepFailed as second:
        raise DataFailure(f"{reason}; then {second.step} failed too: {second.error}. "
                          + _maintenance_hint(p), undone=False) from None
    done = "downgraded" if plan.on_failure == "downgrade" else f"restored from {p.backup_id}"
    left = f"; traffic stays on {plan.live}" if plan.live else ""
    raise DataFailure(f"{reason}; database {done}{left}", undone=True)


def restore_rollback(p: Pipeline) -> None:
    """db-only: restore a backup behind maintenance; full: and switch the app back with it."""
    plan = p.plan
    db, backup_id = str(plan.database), str(plan.params["backup_id"])
    full = plan.params.get("scope") == "full"
    p.step(f"verify {backup_id}", "verify-backup", database=db, backup_id=backup_id)
    p.step("maintenance on", "maintenance", message=plan.maintenance_message)
    try:
        p.step(f"restore {db} from {backup_id}", "restore", database=db, backup_id=backup_id)
        if full and plan.version != plan.live:
            _switch_app(p)
        p.step("maintenance off", "maintenance", message=None)
    except StepFailed as failed:
        raise DataFailure(f"{failed.step} failed: {failed.error}. " + _maintenance_hint(p),
                          undone=False) from None
    p.checks()


def _switch_app(p: Pipeline) -> None:
    """Behind maintenance no user waits: start (or adopt) the version, route, retire the old."""
    plan = p.plan
    ids = p.start(plan.version, list(range(plan.replicas)))
    p.ready(plan.version, ids)
    p.route(f"traffic to {plan.version}", {plan.version: (ids, 100)})
    p.mark_live(plan.version)
    old = [i for i in plan.live_instances if i not in ids]
    p.stop(f"stop {plan.live}", old)
