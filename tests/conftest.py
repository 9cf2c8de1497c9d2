"""Shared fixtures: the store backend under test (SQLite or PostgreSQL) and sandbox projects.

Set ROLLGATE_TEST_DB=postgres to run the whole suite on PostgreSQL (127.0.0.1:5432, trust
auth); every test then gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from rollgate.store.db import Database
from rollgate.testing import Sandbox
from rollgate.testing.receivers import Receiver

PG_ADMIN = os.environ.get("ROLLGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def backend() -> str:
    """Which store the suite runs on."""
    return os.environ.get("ROLLGATE_TEST_DB", "sqlite")


@contextmanager
def store_database(prefix: str = "rg_test") -> Iterator[str | None]:
    """None for the default SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    if backend() != "postgres":
        yield None
        return
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """The test's store (see ``store_database``)."""
    with store_database() as url:
        yield url


@pytest.fixture
def db(database_url: str | None, tmp_path: Path) -> Iterator[Database]:
    """The test's store, migrated to the newest revision."""
    store = Database(database_url or f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def sandbox(tmp_path: Path, database_url: str | None) -> Iterator[Sandbox]:
    """A project folder; everything it started is stopped afterwards."""
    box = Sandbox(tmp_path / "project", database_url=database_url)
    yield box
    if box.spec_path.exists():
        box.down()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A recording HTTP receiver on loopback (a stand-in for Slack, PagerDuty, a webhook)."""
    r = Receiver().start()
    yield r
    r.stop()
