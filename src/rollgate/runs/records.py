"""Rollback records: a row in the store and a JSON file under ``<state>/logs/`` per rollback
(seed 002 keeps ``logs/rollback_*.json``), asked for or automatic, app, db or full."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rollgate.runs.views import run_dict
from rollgate.store import backups as backup_store
from rollgate.store import runs as run_store
from rollgate.store.db import Database
from rollgate.store.tables import Rollback


def write_rollback_record(db: Database, state_dir: Path, run_id: str, *, scope: str,
                          trigger: str, backup_id: str | None) -> Path:
    """Write the record of a finished run's rollback (once: a retried step reuses it)."""
    with db.session() as s:
        done = backup_store.rollbacks(session=s, run_id=run_id, limit=1)
        if done and done[0].record_path:
            return Path(done[0].record_path)
        run = run_store.get_run(session=s, run_id=run_id)
        steps = run_store.list_steps(session=s, run_id=run_id)
        backup = backup_store.get(session=s, backup_id=backup_id) if backup_id else None
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
    with db.session() as s:
        backup_store.add_rollback(session=s, row=Rollback(
            run_id=run.id, service=run.service, environment=run.environment, scope=scope,
            trigger=trigger, from_version=body["from_version"], to_version=body["to_version"],
            backup_id=backup_id, reason=run.reason or run.error, actor=run.actor,
            status=run.status, error=run.error, record_path=str(path), at=finished,
        ))
    return path
