"""``kind: database``: the service's database answers a query (seed 002: "database
connectivity verification"; seed 003: ``psql -c "SELECT 1;"``).

The URL is shown with its password masked and never printed whole.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.errors import UsageError
from rollgate.redact import redact, url_secrets
from rollgate.spec.base import Name
from rollgate.spec.durations import Duration

# Drivers installed with rollgate, for URLs that name none (postgres:// is libpq's spelling).
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
            "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}


class DatabaseCheck(CheckConfig):
    """Connect to a database and run a query, within a timeout."""

    kind: Literal["database"] = Field(description="selects this check")
    url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. ${DATABASE_URL} or "
        "postgresql://app:${DB_PASSWORD}@db/app; ${NAME} is read from the service's "
        "environment; a relative SQLite path is relative to the spec",
    )
    database: Name | None = Field(
        None, description="a database from `databases`, at its URL in the checked environment"
    )
    query: str = Field("SELECT 1", description="query that must succeed")
    timeout: Duration = Field(5.0, gt=0, description="how long connecting and the query may take")

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseCheck:
        if (self.url is None) == (self.database is None):
            raise PydanticCustomError("database_source", "give exactly one of url or database")
        return self


@check_kind(DatabaseCheck)
def run_database(check: DatabaseCheck, ctx: CheckContext) -> CheckResult:
    """Connect with the URL, run the query, report the masked URL and how it went."""
    raw = _raw_url(check, ctx)
    secrets = url_secrets(raw)
    url, shown = _sqlalchemy_url(raw, ctx.spec_dir)
    outcome: list[str] = []
    worker = threading.Thread(target=_probe, args=(url, check, outcome), daemon=True)
    worker.start()
    # Drivers' own timeouts cover connecting; this bounds a query or a DNS lookup that hangs.
    worker.join(check.timeout + 1)
    if not outcome:
        return ctx.failed(f"{shown}: no answer within {check.timeout:g}s")
    problem = redact(outcome[0], secrets)
    if problem:
        return ctx.failed(f"{shown}: {problem}")
    return ctx.passed(f"{shown}: {check.query} succeeded")


def _raw_url(check: DatabaseCheck, ctx: CheckContext) -> str:
    """The URL with ``${NAME}`` filled in."""
    if check.url is not None:
        return ctx.fill(check.url, "url")
    assert check.database is not None
    if check.database not in ctx.spec.databases:
        raise UsageError(f"database: unknown database {check.database!r} (defined: "
                         f"{', '.join(ctx.spec.databases) or 'none'})")
    raw = ctx.spec.database_url(check.database, ctx.environment)
    if raw is None:
        raise UsageError(f"database {check.database} has no url in {ctx.environment}")
    return ctx.fill(raw, f"the url of database {check.database}")


def _sqlalchemy_url(raw: str, spec_dir: Path) -> tuple[URL, str]:
    """A URL with a driver installed here, and how to show it (password masked).

    SQLite files are relative to the spec, and never created.
    """
    try:
        url = make_url(raw)
    except ArgumentError:
        # The text may hold a password: say what is wrong, not what was given.
        raise UsageError("url is not a database URL (expected e.g. "
                         "postgresql://user@host:5432/name or sqlite:///app.db)") from None
    url = url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return url, url.render_as_string(hide_password=True)
    path = Path(url.database or "")
    path = path if path.is_absolute() else (spec_dir / path).resolve()
    # Read-write but never create: a missing file is a failure, not a new empty database.
    local = url.set(database=f"file:{path}", query={"mode": "rw", "uri": "true"})
    return local, f"sqlite:///{path}"


def _probe(url: URL, check: DatabaseCheck, outcome: list[str]) -> None:
    """Connect and run the query; append "" on success or what went wrong."""
    try:
        engine = create_engine(url, poolclass=NullPool,
                               connect_args=_connect_args(url.get_backend_name(), check.timeout))
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        outcome.append(f"no driver for {url.drivername} here ({exc})")
        return
    try:
        with engine.connect() as conn:
            conn.execute(text(check.query)).fetchall()
        outcome.append("")
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        outcome.append(" ".join(str(orig).split())[:300])
    except Exception as exc:  # in this thread, anything unreported would read as a timeout
        outcome.append(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


def _connect_args(backend: str, timeout: float) -> dict[str, object]:
    """The driver's own connect (and query) timeouts, for the drivers rollgate installs."""
    seconds = max(1, math.ceil(timeout))
    if backend == "sqlite":
        return {"timeout": timeout}
    if backend == "postgresql":
        return {"connect_timeout": seconds,
                "options": f"-c statement_timeout={int(timeout * 1000)}"}
    if backend == "mysql":
        return {"connect_timeout": seconds, "read_timeout": seconds}
    return {}
