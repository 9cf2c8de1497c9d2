"""Settings: one pydantic-settings tree with the ROLLGATE_ prefix, built on demand."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the spec, the state and the store live."""

    model_config = SettingsConfigDict(env_prefix="ROLLGATE_", extra="ignore")

    spec: Path = Field(Path("rollgate.yaml"), description="path of the spec file")
    state_dir: Path | None = Field(
        None, description="state folder (default: .rollgate beside the spec)"
    )
    database_url: str | None = Field(
        None, description="store URL (default: SQLite file in the state folder)"
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="addresses whose X-Forwarded-Proto/-For `rollgate serve` believes "
                    "(comma-separated IPs or networks, * for any); HSTS follows the scheme",
    )
    heartbeat_interval: float = Field(1.0, description="seconds between executor heartbeats")
    heartbeat_timeout: float = Field(
        6.0, description="an executor silent this long is dead and its runs resumable"
    )

    def resolved_state_dir(self) -> Path:
        """The state folder, beside the spec unless set."""
        if self.state_dir is not None:
            return self.state_dir.resolve()
        return (self.spec.resolve().parent / ".rollgate").resolve()

    def resolved_database_url(self) -> str:
        """The store URL; SQLite in the state folder by default."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_state_dir() / 'rollgate.db'}"

    def engine_database_url(self) -> str:
        """The DBOS system database: the same PostgreSQL, or a SQLite file beside the store."""
        url = self.resolved_database_url()
        if url.startswith("sqlite"):
            return f"sqlite:///{self.resolved_state_dir() / 'engine.db'}"
        return url.replace("postgresql+psycopg://", "postgresql://", 1)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)  # type: ignore[arg-type]
