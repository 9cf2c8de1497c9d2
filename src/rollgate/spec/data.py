"""Databases in rollgate.yaml: engine, connection, backups, retention and migrations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from rollgate.spec.base import Model
from rollgate.spec.durations import Duration

DEFAULT_MAINTENANCE_MESSAGE = "Scheduled maintenance: we will be back in a few minutes."


class Retention(Model):
    """Which backups `rollgate backup prune` keeps (a rollback point or `keep` is never pruned)."""

    keep_last: int | None = Field(10, ge=1, description="keep at least the newest N backups")
    max_age: Duration | None = Field(
        None, description="backups older than this (beyond keep_last) are pruned, e.g. 30d"
    )


class AlembicMigrations(Model):
    """Alembic migrations: `alembic upgrade` in a child process, status read from the database."""

    kind: Literal["alembic"] = Field(description="selects Alembic")
    config: str = Field("alembic.ini", description="alembic.ini path (relative to the spec)")
    target: str = Field("head", description="revision to upgrade to")
    on_failure: Literal["restore", "downgrade"] = Field(
        "restore",
        description="after a failed migration: restore the pre-migration backup, or "
        "`alembic downgrade` to the revision before",
    )
    timeout: Duration = Field(1800.0, description="how long the migration may run")


class CommandMigrations(Model):
    """Migrations run by your own commands (prisma, pnpm db:migrate, flyway...)."""

    kind: Literal["command"] = Field(description="selects commands")
    run: str = Field(description="applies the pending migrations (sh -c; exit 0 = success)")
    status: str | None = Field(
        None, description="prints the migration status (shown by `rollgate db status`)"
    )
    revision: str | None = Field(
        None, description="prints the current schema revision (recorded in each backup)"
    )
    plan: str | None = Field(
        None, description="prints the SQL the pending migrations would run (the "
        "non-destructive check reads it)"
    )
    downgrade: str | None = Field(None, description="undoes the migration (on_failure: downgrade)")
    on_failure: Literal["restore", "downgrade"] = Field(
        "restore", description="after a failed migration: restore the backup, or run `downgrade`"
    )
    timeout: Duration = Field(1800.0, description="how long each command may run")

    @model_validator(mode="after")
    def _downgrade_needs_command(self) -> CommandMigrations:
        if self.on_failure == "downgrade" and not self.downgrade:
            raise PydanticCustomError(
                "downgrade_without_command",
                "on_failure: downgrade needs a `downgrade` command",
            )
        return self


Migrations = Annotated[AlembicMigrations | CommandMigrations, Field(discriminator="kind")]


class Database(Model):
    """A database a service uses: how to back it up, restore it and migrate it."""

    engine: Literal["sqlite", "postgres", "mariadb", "command"] = Field(
        description="backup engine: SQLite online backup, pg_dump -Fc, mariadb-dump, or commands"
    )
    url: str | None = Field(
        None,
        description="connection URL: sqlite:///path (relative to the spec), postgresql://..., "
        "mysql://...; ${NAME} is read from the environment (keep passwords there). "
        "Environments can override it",
    )
    backup: str | None = Field(
        None, description="engine command: writes a backup to {file} (sh -c), e.g. mongodump "
        "--archive={file}"
    )
    restore: str | None = Field(
        None, description="engine command: restores the backup in {file}"
    )
    check: str | None = Field(
        None, description="engine command: checks the backup in {file} (exit 0 = sound)"
    )
    storage: str | None = Field(
        None, description="folder of the backup files (default: backups/ in the state folder)"
    )
    retention: Retention = Field(default_factory=Retention, description="what prune keeps")
    migrations: Migrations | None = Field(None, description="how the schema is migrated")
    backup_on_deploy: bool = Field(
        True, description="back up before every deploy of a service using it (the rollback "
        "point of that release), not only before migrations"
    )
    maintenance_message: str = Field(
        DEFAULT_MAINTENANCE_MESSAGE, max_length=500,
        description="what the public port answers (503) while the database is restored",
    )

    @model_validator(mode="after")
    def _engine_needs(self) -> Database:
        if self.engine == "command":
            missing = [k for k in ("backup", "restore") if not getattr(self, k)]
            if missing:
                raise PydanticCustomError(
                    "command_engine", "engine command needs {missing} (commands using {file})",
                    {"missing": " and ".join(missing), "file": "{file}"},
                )
        elif not self.url:
            raise PydanticCustomError(
                "url_required", "engine {engine} needs a url", {"engine": self.engine}
            )
        return self
