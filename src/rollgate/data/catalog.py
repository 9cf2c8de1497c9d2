"""The backup catalog: create, verify, restore and prune backups, with their metadata.

A backup exists in the catalog only once its file is complete, checked by its engine and
described in a ``.meta.json`` beside it: a failure on the way leaves neither file nor row.
Before every restore the file's sha256 and the engine's check run again; a backup that
fails either is refused and nothing is touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rollgate.data import migrations
from rollgate.data.target import DataTarget
from rollgate.errors import BackupCorrupt, DataError, RefusedError, UsageError
from rollgate.redact import redact
from rollgate.store import backups as backup_store
from rollgate.store.db import Database
from rollgate.store.runs import now
from rollgate.store.tables import Backup


def new_id(db: Database, at: datetime) -> str:
    """``backup_YYYYMMDD_HHMMSS``, with ``_2``, ``_3``... when that second is taken."""
    base = f"backup_{at:%Y%m%d_%H%M%S}"
    with db.session() as s:
        candidate, n = base, 1
        while backup_store.exists(session=s, backup_id=candidate):
            n += 1
            candidate = f"{base}_{n}"
    return candidate


def meta(row: Backup) -> dict[str, Any]:
    """What the ``.meta.json`` (and ``backup show --json``) says about a backup."""
    return {
        "id": row.id, "database": row.database, "environment": row.environment,
        "engine": row.engine, "file": Path(row.location).name, "location": row.location,
        "size": row.size, "sha256": row.sha256, "duration_ms": row.duration_ms,
        "schema_revision": row.schema_revision, "check": row.check_summary,
        "actor": row.actor, "reason": row.reason, "run_id": row.run_id,
        "service": row.service, "version": row.version, "retention": row.retention,
        "created_at": row.created_at.isoformat(),
        "verified_at": row.verified_at.isoformat() if row.verified_at else None,
        "pruned_at": row.pruned_at.isoformat() if row.pruned_at else None,
    }


def _safe_revision(t: DataTarget) -> str | None:
    if t.config.migrations is None:
        return None
    try:
        return migrations.current_revision(t)
    except DataError:
        return None  # a database that cannot say its revision can still be backed up


def create(db: Database, t: DataTarget, *, actor: str, reason: str | None,
           run_id: str | None = None, service: str | None = None, version: str | None = None,
           keep: bool = False) -> Backup:
    """Back up a database, check the result, describe it and record it in the catalog."""
    _not_the_store(db, t)
    engine = t.engine()
    started = now()
    backup_id = new_id(db, started)
    storage = t.storage()
    path = storage.path_for(backup_id, engine.suffix)
    revision = _safe_revision(t)
    clock = time.perf_counter()
    try:
        digest = engine.backup(path)
        summary = engine.check(path)
        row = Backup(
            id=backup_id, database=t.name, environment=t.environment, engine=engine.kind,
            location=str(path), size=path.stat().st_size, sha256=digest,
            duration_ms=int((time.perf_counter() - clock) * 1000), schema_revision=revision,
            check_summary=summary, actor=actor, reason=reason, run_id=run_id,
            service=service, version=version,
            retention=backup_store.KEEP if keep else backup_store.VALID,
            created_at=started, verified_at=now(), pruned_at=None,
        )
        storage.write_meta(path, meta(row))
        with db.session() as s:
            backup_store.add(session=s, row=row)
    except BaseException:
        storage.delete(path)
        raise
    return row


@dataclass(frozen=True)
class Verified:
    """A backup that passed its checks."""

    row: Backup
    summary: str


def verify(db: Database, t: DataTarget, backup_id: str, engine_check: bool = True) -> Verified:
    """Re-check a backup's file: present, same size and sha256, and its engine's check.

    A matching sha256 proves the file is the one the engine checked when it was written, so
    a restore (``engine_check=False``) does not pay for reading it through the engine again.
    """
    from rollgate.data.engines import sha256_file

    with db.session() as s:
        row = backup_store.get(session=s, backup_id=backup_id)
    _same_database(row, t)
    path = Path(row.location)
    if row.pruned_at is not None or not path.exists():
        raise BackupCorrupt(f"{row.id}: its file {path} is gone"
                            + (" (pruned)" if row.pruned_at else "")
                            + "; pick another backup from `rollgate backup list`")
    size = path.stat().st_size
    if size != row.size:
        raise BackupCorrupt(f"{row.id} is corrupt: {path.name} has {size} bytes, the catalog "
                            f"recorded {row.size} (truncated or changed); it will not be "
                            "restored. Pick another backup from `rollgate backup list`")
    digest = sha256_file(path)
    if digest != row.sha256:
        raise BackupCorrupt(f"{row.id} is corrupt: sha256 {digest[:12]}… does not match the "
                            f"catalog's {row.sha256[:12]}…; it will not be restored. Pick "
                            "another backup from `rollgate backup list`")
    summary = (t.engine().check(path) if engine_check
               else f"checked when written: {row.check_summary}")
    with db.session() as s:
        fresh = backup_store.get(session=s, backup_id=backup_id)
        fresh.verified_at = now()
    return Verified(row, f"sha256 ok ({human_size(size)}); {summary}")


def restore(db: Database, t: DataTarget, backup_id: str) -> Verified:
    """Verify a backup, then replace the database's content with it."""
    _not_the_store(db, t)
    checked = verify(db, t, backup_id, engine_check=False)
    try:
        t.engine().restore(Path(checked.row.location))
    except DataError as exc:
        raise DataError(redact(exc.message, t.secrets()), details=exc.details) from None
    return checked


def _not_the_store(db: Database, t: DataTarget) -> None:
    if t.is_store(db.url):
        raise UsageError(f"database {t.label} is rollgate's own store; give rollgate a "
                         "database of its own (ROLLGATE_DATABASE_URL) so that restoring your "
                         "data never rewinds rollgate's journal")


def _same_database(row: Backup, t: DataTarget) -> None:
    if (row.database, row.environment) != (t.name, t.environment):
        raise RefusedError(f"{row.id} is a backup of {row.database}/{row.environment}, not of "
                           f"{t.label}; restore it there, or pick a backup of {t.label}")


def set_retention(db: Database, backup_id: str, retention: str) -> Backup:
    """Mark a backup keep (never pruned) or valid again."""
    if retention not in (backup_store.KEEP, backup_store.VALID):
        raise UsageError(f"retention must be keep or valid, not {retention!r}")
    with db.session() as s:
        row = backup_store.get(session=s, backup_id=backup_id)
        if row.pruned_at is not None:
            raise RefusedError(f"{backup_id} was pruned; its file is gone")
        row.retention = retention
    path = Path(row.location)
    if path.exists():
        from rollgate.data.storage import LocalStorage

        LocalStorage(path.parent).write_meta(path, meta(row))
    return row


@dataclass(frozen=True)
class PruneDecision:
    """What prune does with one backup, and why."""

    row: Backup
    prune: bool
    why: str


def plan_prune(db: Database, t: DataTarget, at: datetime | None = None) -> list[PruneDecision]:
    """Decide, newest first, which backups of a database retention prunes."""
    at = at or now()
    policy = t.config.retention
    with db.session() as s:
        rows = backup_store.listing(session=s, database=t.name, environment=t.environment,
                                    include_pruned=False)
        protected = backup_store.rollback_points(session=s, environments=[t.environment])
    decisions = []
    for rank, row in enumerate(rows):
        age = at - row.created_at
        if row.retention == backup_store.KEEP:
            decisions.append(PruneDecision(row, False, "marked keep"))
        elif row.id in protected:
            decisions.append(PruneDecision(row, False, "rollback point of the live release"))
        elif policy.keep_last is not None and rank < policy.keep_last:
            decisions.append(PruneDecision(row, False, f"among the newest {policy.keep_last}"))
        elif policy.max_age is not None and age <= timedelta(seconds=policy.max_age):
            decisions.append(PruneDecision(row, False, "younger than max_age"))
        elif policy.keep_last is None and policy.max_age is None:
            decisions.append(PruneDecision(row, False, "no retention limits set"))
        else:
            limit = (f"beyond the newest {policy.keep_last}" if policy.keep_last else "")
            if policy.max_age is not None:
                limit += (" and " if limit else "") + "older than max_age"
            decisions.append(PruneDecision(row, True, limit))
    return decisions


def prune(db: Database, t: DataTarget, dry_run: bool = False) -> list[PruneDecision]:
    """Delete the files of backups retention does not keep; their rows stay, marked obsolete."""
    decisions = plan_prune(db, t)
    if dry_run:
        return decisions
    for d in decisions:
        if not d.prune:
            continue
        t.storage().delete(Path(d.row.location))
        with db.session() as s:
            row = backup_store.get(session=s, backup_id=d.row.id)
            row.retention = backup_store.OBSOLETE
            row.pruned_at = now()
    return decisions


def human_size(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"

