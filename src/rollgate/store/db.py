"""The store: engine, sessions and schema migrations (Alembic) on SQLite or PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# The newest migration; checked against Alembic's own view by a test. Knowing it here lets
# every command skip importing Alembic when the schema is already current.
HEAD_REVISION = "0010"

# Connections kept open per process. The API serves at most this many requests at once in
# threads (``rollgate serve`` sets its thread limit to it), so busy moments never open and
# close connections to PostgreSQL (each costs a server process there).
POOL_SIZE = 16

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE,
                         max_overflow=8)


def add_unique(session: Session, row: Any) -> bool:
    """Insert ``row`` in a savepoint; False (and nothing written) when a unique constraint
    refuses it: another writer, or an earlier try, put that row there first. The rest of
    the caller's transaction goes on either way."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs rollgate's migrations on ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


class Database:
    """The store's engine and session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                   expire_on_commit=False)

    def revision(self) -> str | None:
        """The schema revision of the store, None when it has no schema yet."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is current)."""
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command

        command.upgrade(alembic_config(self.engine), "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads outside a transaction: each statement sees what is committed
        when it runs, and there is no BEGIN or COMMIT to wait for. Never write through it."""
        with self._reads() as s:
            yield s

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
