"""A database of the spec in one environment: its URL filled in, its engine and storage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rollgate.errors import UsageError
from rollgate.redact import fill_refs, url_secrets
from rollgate.spec.data import Database
from rollgate.spec.models import Spec

if TYPE_CHECKING:
    from rollgate.data.engines import BackupEngine
    from rollgate.data.storage import LocalStorage

_DIALECTS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
             "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}


@dataclass(frozen=True)
class DataTarget:
    """One database in one environment, ready to back up, restore and migrate."""

    name: str
    environment: str
    config: Database
    url: str | None  # with ${NAME} filled in: never print it, use ``safe_url``
    spec_dir: Path
    state_dir: Path

    @classmethod
    def resolve(cls, spec: Spec, spec_dir: Path, state_dir: Path, database: str,
                environment: str) -> DataTarget:
        """The database ``database`` of the spec in ``environment``."""
        if database not in spec.databases:
            raise UsageError(f"unknown database {database!r}; the spec has: "
                             f"{', '.join(spec.databases) or 'none'}")
        if environment not in spec.environments:
            raise UsageError(f"unknown environment {environment!r}; the spec has: "
                             f"{', '.join(spec.environments)}")
        raw = spec.database_url(database, environment)
        where = (f"environments.{environment}.databases.{database}"
                 if database in spec.environments[environment].databases
                 else f"databases.{database}.url")
        url = fill_refs(raw, where, UsageError) if raw else None
        return cls(name=database, environment=environment, config=spec.databases[database],
                   url=url, spec_dir=spec_dir, state_dir=state_dir)

    @property
    def label(self) -> str:
        """``database/environment``, as messages name it."""
        return f"{self.name}/{self.environment}"

    def secrets(self) -> list[str]:
        """Values that must never be printed (the URL's password)."""
        return url_secrets(self.url) if self.url else []

    def sqlite_path(self) -> Path:
        """The file of a SQLite database (relative URLs are relative to the spec)."""
        assert self.url is not None
        raw = self.url.split("://", 1)[1].removeprefix("/")
        path = Path(raw)
        return path if path.is_absolute() else (self.spec_dir / path).resolve()

    def sqlalchemy_url(self) -> str:
        """The URL with a driver SQLAlchemy has here (psycopg, PyMySQL, sqlite3)."""
        if self.url is None:
            raise UsageError(f"database {self.label} has no url; Alembic needs one")
        if self.config.engine == "sqlite":
            return f"sqlite:///{self.sqlite_path()}"
        scheme, rest = self.url.split("://", 1)
        return f"{_DIALECTS.get(scheme, scheme)}://{rest}"

    def is_store(self, store_url: str) -> bool:
        """True when this database is rollgate's own store (it must never back it up)."""
        if self.url is None:
            return False
        return _identity(self.sqlalchemy_url()) == _identity(store_url)

    def command_env(self) -> dict[str, str]:
        """What backup, restore and migration commands see: DATABASE_URL and the env name."""
        env = {"ROLLGATE_ENVIRONMENT": self.environment, "ROLLGATE_DATABASE": self.name}
        if self.url:
            env["DATABASE_URL"] = (f"sqlite:///{self.sqlite_path()}"
                                   if self.config.engine == "sqlite" else self.url)
        return env

    def engine(self) -> BackupEngine:
        """The backup engine of this database."""
        from rollgate.data.engines import (
            CommandEngine,
            MariaDBEngine,
            PostgresEngine,
            SQLiteEngine,
        )

        cfg = self.config
        if cfg.engine == "sqlite":
            return SQLiteEngine(self.sqlite_path())
        if cfg.engine == "postgres":
            assert self.url is not None
            return PostgresEngine(self.url)
        if cfg.engine == "mariadb":
            assert self.url is not None
            return MariaDBEngine(self.url)
        assert cfg.backup and cfg.restore
        return CommandEngine(backup=cfg.backup, restore=cfg.restore, check=cfg.check,
                             env=self.command_env(), cwd=self.spec_dir)

    def storage(self) -> LocalStorage:
        """Where this database's backup files go."""
        from rollgate.data.storage import LocalStorage

        if self.config.storage:
            root = Path(self.config.storage)
            root = root if root.is_absolute() else (self.spec_dir / root).resolve()
        else:
            root = self.state_dir / "backups"
        return LocalStorage(root / self.environment / self.name)


def _identity(url: str) -> tuple[str, str, int | None, str]:
    """(family, host, port, database or file) of a URL, for comparing two URLs."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    family = parts.scheme.split("+", 1)[0]
    family = {"postgres": "postgresql", "mariadb": "mysql"}.get(family, family)
    if family == "sqlite":
        return family, "", None, str(Path(url.split(":///", 1)[-1]).resolve())
    return family, parts.hostname or "localhost", parts.port, parts.path.strip("/")
