"""Rollback records: a row in the store and a JSON file under ``<state>/logs/`` per rollback
(seed 002 keeps ``logs/rollback_*.json``), asked for or automatic, app, db or full."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from rollgate.runs.views import run_dict
from rollgate.store import backups as backup_store
from rollgate.store import runs as run_store
from rollgate.store.tables import Rollback, Run


def write_rollback_record(session: Session, state_dir: Path, run: Run, *, scope: str,
                          trigger: str, backup_id: str | None) -> Path:
    """Write the record of a run's rollback in the transaction that ends the run (once: a
    retried step reuses it), so a run is never seen ended without its record."""
    done = backup_store.rollbacks(session=session, run_id=run.id, limit=1)
    if done and done[0].record_path:
        return Path(done[0].record_path)
    steps = run_store.list_steps(session=session, run_id=run.id)
    backup = backup_store.get(session=session, backup_id=backup_id) if backup_id else None
    finished = run.finished_at or run_store.now()
    path = state_dir / "logs" / f"rollback_{finished:%Y%m%d_%H%M%S}_{run.id}.json"
    body: dict[str, Any] = {
        "scope": scope, "trigger": trigger,
        "from_version": run.from_version if run.kind == "rollback" else run.version,
        "to_version": run.version if run.kind == "rollback" else run.from_version,
        "backup": {"id": backup.id, "created_at": backup.created_at.isoformat(),
                   "schema_revision": backup.schema_revision, "sha256": backup.sha256}
        if backup else None,
        "run": run_dict(run, steps),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    backup_store.add_rollback(session=session, row=Rollback(
        run_id=run.id, service=run.service, environment=run.environment, scope=scope,
        trigger=trigger, from_version=body["from_version"], to_version=body["to_version"],
        backup_id=backup_id, reason=run.reason or run.error, actor=run.actor,
        status=run.status, error=run.error, record_path=str(path), at=finished,
    ))
    return path
