"""The backup catalog and the rollback records in the store."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.errors import NotFoundError
from rollgate.store.tables import Backup, Deployment, Rollback

VALID = "valid"
OBSOLETE = "obsolete"
KEEP = "keep"


def add(*, session: Session, row: Backup) -> None:
    """Record a backup that was written and checked."""
    session.add(row)


def get(*, session: Session, backup_id: str) -> Backup:
    """A backup by id, or a NotFoundError naming the known ones."""
    row = session.get(Backup, backup_id)
    if row is None:
        recent = [b.id for b in listing(session=session, limit=5)]
        raise NotFoundError(f"no backup {backup_id!r}; recent: {', '.join(recent) or 'none'} "
                            "(see `rollgate backup list`)")
    return row


def exists(*, session: Session, backup_id: str) -> bool:
    """True when the id is taken."""
    return session.get(Backup, backup_id) is not None


def listing(*, session: Session, database: str | None = None, environment: str | None = None,
            limit: int | None = None, include_pruned: bool = True,
            offset: int = 0, environments: Collection[str] | None = None) -> list[Backup]:
    """Backups, newest first (``environments``: only those; None: all)."""
    query = select(Backup).order_by(Backup.created_at.desc(), Backup.id.desc())
    if database:
        query = query.where(Backup.database == database)
    if environment:
        query = query.where(Backup.environment == environment)
    if environments is not None:
        query = query.where(Backup.environment.in_(sorted(environments)))
    if not include_pruned:
        query = query.where(Backup.pruned_at.is_(None))
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query.offset(offset)))


def latest(*, session: Session, database: str, environment: str) -> Backup | None:
    """The newest backup that still has its file."""
    rows = listing(session=session, database=database, environment=environment, limit=1,
                   include_pruned=False)
    return rows[0] if rows else None


def of_run(*, session: Session, run_id: str, database: str) -> Backup | None:
    """The backup a run took of a database (its pre-deploy backup)."""
    return session.scalars(select(Backup).where(Backup.run_id == run_id,
                                                Backup.database == database)
                           .order_by(Backup.created_at.desc())).first()


def rollback_points(*, session: Session, environments: Collection[str]) -> set[str]:
    """Ids of backups taken by the runs that made the live versions of these environments
    live (never pruned)."""
    if not environments:
        return set()
    runs = [d.run_id for d in session.scalars(
        select(Deployment).where(Deployment.environment.in_(environments)))]
    if not runs:
        return set()
    return set(session.scalars(select(Backup.id).where(Backup.run_id.in_(runs))))


def add_rollback(*, session: Session, row: Rollback) -> None:
    """Record a rollback."""
    session.add(row)


def rollbacks(*, session: Session, run_id: str | None = None, limit: int = 50,
              offset: int = 0, environments: Collection[str] | None = None) -> list[Rollback]:
    """Rollback records, newest first (``environments``: only those; None: all)."""
    query = (select(Rollback).order_by(Rollback.at.desc(), Rollback.id.desc())
             .offset(offset).limit(limit))
    if run_id:
        query = query.where(Rollback.run_id == run_id)
    if environments is not None:
        query = query.where(Rollback.environment.in_(sorted(environments)))
    return list(session.scalars(query))
