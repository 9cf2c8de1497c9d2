"""Backups and rollback records (read-only; restores go through POST /api/rollbacks)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from rollgate.api.auth import PrincipalDep
from rollgate.api.common import Limit, Offset, RuntimeDep, errors, page
from rollgate.data import catalog
from rollgate.store import backups as backup_store

router = APIRouter(prefix="/api", tags=["data"])


@router.get("/backups", summary="List backups", responses=errors(401, 403, 422),
            description="The backup catalog, newest first: size, sha256, schema revision, "
                        "retention state, and whether it is a live release's rollback point. "
                        "Only environments the caller may view (viewer) are listed.")
def list_backups(
    rt: RuntimeDep,
    principal: PrincipalDep,
    database: Annotated[str | None, Query(description="only this database")] = None,
    environment: Annotated[str | None, Query(description="only this environment")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Backups, newest first, one page."""
    principal.check_somewhere("viewer")
    if environment is not None:
        principal.check("viewer", environment)
    with rt.db.session() as s:
        rows = backup_store.listing(session=s, database=database, environment=environment,
                                    limit=limit + 1, offset=offset,
                                    environments=principal.environments("viewer"))
        points = backup_store.rollback_points(
            session=s, environments={r.environment for r in rows})
    return page([{**catalog.meta(r), "rollback_point": r.id in points} for r in rows],
                limit=limit, offset=offset)


@router.get("/backups/{backup_id}", summary="Show a backup", responses=errors(401, 403, 404),
            description="One backup's catalog entry, as its .meta.json says it. Needs viewer "
                        "on the backup's environment.")
def show_backup(backup_id: str, rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """One backup's catalog entry."""
    with rt.db.session() as s:
        row = backup_store.get(session=s, backup_id=backup_id)
        principal.check("viewer", row.environment)
        return catalog.meta(row)


@router.get("/rollbacks", summary="List rollback records", responses=errors(401, 403, 422),
            description="Every rollback, asked for or automatic: scope (app, db, full), "
                        "versions, backup, reason, status and the path of its JSON record. "
                        "Only environments the caller may view (viewer) are listed.")
def list_rollbacks(rt: RuntimeDep, principal: PrincipalDep, limit: Limit = 50,
                   offset: Offset = 0) -> dict[str, Any]:
    """Rollback records, newest first, one page."""
    principal.check_somewhere("viewer")
    with rt.db.session() as s:
        rows = backup_store.rollbacks(session=s, limit=limit + 1, offset=offset,
                                      environments=principal.environments("viewer"))
    return page([{"run_id": r.run_id, "service": r.service, "environment": r.environment,
             "scope": r.scope, "trigger": r.trigger, "from_version": r.from_version,
             "to_version": r.to_version, "backup_id": r.backup_id, "reason": r.reason,
             "actor": r.actor, "status": r.status, "error": r.error,
             "record_path": r.record_path, "at": r.at} for r in rows],
                limit=limit, offset=offset)
