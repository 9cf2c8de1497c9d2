"""The store's migrations: HEAD_REVISION matches Alembic's head, and they apply cleanly."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from rollgate.store.db import HEAD_REVISION, Database, alembic_config


def test_head_revision_constant_matches_alembic(tmp_path: object) -> None:
    db = Database("sqlite:///:memory:")
    assert ScriptDirectory.from_config(alembic_config(db.engine)).get_current_head() == \
        HEAD_REVISION


def test_migrations_create_every_table(database_url: str | None, tmp_path: object) -> None:
    from pathlib import Path

    db = Database(database_url or f"sqlite:///{Path(str(tmp_path)) / 'store.db'}")
    db.migrate()
    assert db.revision() == HEAD_REVISION
    tables = set(inspect(db.engine).get_table_names())
    assert {"runs", "steps", "run_locks", "executors", "instances", "proxies", "deployments",
            "releases", "audit_events", "analysis_checks", "backups", "rollbacks",
            "audit_head", "users", "grants", "api_tokens", "sessions", "login_failures",
            "quality_results", "checklist_confirmations", "incidents",
            "maintenance_notices", "notify_events", "notifications"} <= tables
    db.migrate()  # a second time is a no-op
    db.dispose()
