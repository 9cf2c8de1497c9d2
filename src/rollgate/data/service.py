"""Domain functions behind `rollgate backup`, `rollgate db` and `rollgate maintenance`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollgate.data import catalog, migrations
from rollgate.data.target import DataTarget
from rollgate.engine.runtime import Runtime
from rollgate.errors import DataError, RefusedError, UsageError
from rollgate.runs.service import Project
from rollgate.store import audit, inventory
from rollgate.store import backups as backup_store
from rollgate.store.runs import now
from rollgate.store.tables import Backup


def pick_database(project: Project, database: str | None) -> str:
    """The database named, or the spec's only one."""
    names = list(project.spec.databases)
    if database:
        return database
    if len(names) == 1:
        return names[0]
    if not names:
        raise UsageError("the spec has no databases: add one under `databases:`")
    raise UsageError(f"the spec has several databases ({', '.join(names)}): pick one with "
                     "--database")


def data_target(rt: Runtime, project: Project, database: str | None,
                environment: str) -> DataTarget:
    """A database of the spec in an environment."""
    return DataTarget.resolve(project.spec, project.spec_dir, rt.state_dir,
                              pick_database(project, database), environment)


def create_backup(rt: Runtime, project: Project, *, environment: str, database: str | None,
                  actor: str, reason: str | None, keep: bool = False) -> Backup:
    """Take a backup now and record it."""
    t = data_target(rt, project, database, environment)
    row = catalog.create(rt.db, t, actor=actor, reason=reason, keep=keep)
    with rt.db.session() as s:
        audit.record(session=s, actor=actor, action="backup.created", target=t.label,
                     detail={"backup": row.id, "size": row.size, "reason": reason})
    return row


def backup_target(rt: Runtime, project: Project, backup_id: str) -> tuple[Backup, DataTarget]:
    """A catalog entry and the database it belongs to."""
    with rt.db.session() as s:
        row = backup_store.get(session=s, backup_id=backup_id)
    if row.database not in project.spec.databases:
        raise UsageError(f"{backup_id} is a backup of {row.database}, which the spec no longer "
                         "has; add it back under `databases:` to use it")
    return row, data_target(rt, project, row.database, row.environment)


def services_using(project: Project, database: str) -> list[str]:
    """Services whose database is ``database``."""
    return [n for n, svc in project.spec.services.items() if svc.database == database]


def live_service(rt: Runtime, project: Project, database: str, environment: str) -> str | None:
    """The service using ``database`` that is live in ``environment`` (restores go through it)."""
    with rt.db.session() as s:
        for name in services_using(project, database):
            if inventory.deployment(session=s, service=name, environment=environment):
                return name
    return None


def restore_now(rt: Runtime, project: Project, backup_id: str, *, actor: str,
                reason: str | None) -> Backup:
    """Restore a backup directly (no service of it is live, so there is no traffic to stop)."""
    row, t = backup_target(rt, project, backup_id)
    catalog.restore(rt.db, t, backup_id)
    with rt.db.session() as s:
        audit.record(session=s, actor=actor, action="backup.restored", target=t.label,
                     detail={"backup": backup_id, "reason": reason})
    return row


def db_status(rt: Runtime, project: Project, *, environment: str,
              database: str | None) -> dict[str, Any]:
    """Revision, pending migrations, and the last backup with its age."""
    t = data_target(rt, project, database, environment)
    info: dict[str, Any] = {"database": t.name, "environment": environment,
                            "engine": t.config.engine}
    if t.config.migrations is not None:
        try:
            info["migrations"] = migrations.status(t).to_json()
        except DataError as exc:
            info["migrations"] = {"error": exc.message}
    else:
        info["migrations"] = None
    with rt.db.session() as s:
        last = backup_store.latest(session=s, database=t.name, environment=environment)
        count = len(backup_store.listing(session=s, database=t.name, environment=environment,
                                         include_pruned=False))
    info["backups"] = count
    info["last_backup"] = None if last is None else {
        "id": last.id, "created_at": last.created_at.isoformat(),
        "age_s": int((now() - last.created_at).total_seconds()),
        "size": last.size, "schema_revision": last.schema_revision,
    }
    return info


def set_maintenance(rt: Runtime, project: Project, *, service: str, environment: str,
                    message: str | None, actor: str) -> dict[str, Any] | None:
    """Put a service's public port in maintenance (503 + message), or take it out."""
    project.check_target(service, environment)
    target = project.target(rt, service, environment)
    if message is not None and not message.strip():
        raise UsageError("the maintenance message is empty")
    if message is None and target.maintenance() is None:
        raise RefusedError(f"{service} in {environment} is not in maintenance")
    target.set_maintenance(message)
    with rt.db.session() as s:
        audit.record(session=s, actor=actor,
                     action="maintenance.on" if message else "maintenance.off",
                     target=f"{service}/{environment}", detail={"message": message})
    return target.maintenance()


def age(at: datetime) -> str:
    """How long ago, roughly: '3m', '2h', '5d'."""
    seconds = max(0, int((now() - at).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
