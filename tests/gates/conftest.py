"""Fixtures of the quality gate tests: a migrated store (SQLite, or PostgreSQL on request)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rollgate.store.db import Database


@pytest.fixture
def db(database_url: str | None, tmp_path: Path) -> Iterator[Database]:
    """The test's store, migrated to the newest revision."""
    store = Database(database_url or f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    yield store
    store.dispose()
