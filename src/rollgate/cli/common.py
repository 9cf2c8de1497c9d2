"""State shared by the commands of one CLI invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from rollgate.engine.runtime import Runtime
from rollgate.errors import UsageError
from rollgate.moments import parse_utc
from rollgate.runs.service import Project
from rollgate.settings import Settings, load_settings
from rollgate.spec.loader import load_spec

if TYPE_CHECKING:
    from rollgate.cli.remote import RemoteClient


@dataclass
class AppState:
    """The spec path, settings and runtime, built lazily once per invocation."""

    spec: Path | None = None
    server: str | None = None  # --server URL: run commands go through that server's API
    json_errors: bool = False
    _runtime: Runtime | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """Settings from the environment and the --spec option."""
        return load_settings(spec=self.spec)

    def project(self) -> Project:
        """The loaded, validated spec."""
        path = self.settings().spec
        shown = path
        if path.is_absolute() and path.resolve().is_relative_to(Path.cwd()):
            shown = path.resolve().relative_to(Path.cwd())  # errors name the file as seen
        return Project(spec=load_spec(shown), spec_dir=path.resolve().parent)

    def remote(self) -> RemoteClient | None:
        """The API client of the server given with --server, or None (work locally)."""
        if not self.server:
            return None
        from rollgate.cli.remote import RemoteClient

        return RemoteClient(self.server)

    def runtime(self, kind: str = "cli") -> Runtime:
        """The runtime (store opened and migrated)."""
        if self._runtime is None:
            self._runtime = Runtime(self.settings(), kind=kind)
        return self._runtime

    def close(self) -> list[str]:
        """Stop the engine if this invocation started it; return runs left unfinished."""
        driven: list[str] = []
        if self._runtime is not None:
            driven = self._runtime.close()
            self._runtime = None
        return driven


app_state = AppState()


def at_option(text: str | None, zone: tzinfo = UTC) -> datetime:
    """An ``--at`` option as a UTC time (without an offset: a time in ``zone``), or now."""
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_utc(text, zone)
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO time; write e.g. 2025-03-10T09:00 "
                         f"({zone}) or 2025-03-10T09:00+02:00") from None
