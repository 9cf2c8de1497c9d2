"""The target contract: what a strategy needs from the thing that runs versions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol


@dataclass(frozen=True)
class InstanceInfo:
    """One running instance of a version."""

    id: str
    version: str
    replica: int
    pid: int
    port: int
    alive: bool

    @property
    def url(self) -> str:
        """The instance's direct URL (bypassing the proxy)."""
        return f"http://127.0.0.1:{self.port}"


class Target(Protocol):
    """Starts and stops versions of one service in one environment and moves its traffic."""

    kind: ClassVar[str]

    def ensure_router(self) -> str:
        """Make sure traffic can be routed; return the public URL."""
        ...

    def start(self, version: str, replica: int, run_id: str | None) -> InstanceInfo:
        """Start (or adopt, if already running) one replica of a version."""
        ...

    def wait_ready(self, instance: InstanceInfo, should_stop: Callable[[], bool]) -> str:
        """Block until the instance passes its health check; return a summary line."""
        ...

    def stop(self, instance_id: str) -> None:
        """Stop an instance; a stopped or unknown one is not an error."""
        ...

    def instances(self, version: str | None = None) -> list[InstanceInfo]:
        """Recorded instances, re-checked for liveness."""
        ...

    def route(self, weights: dict[str, int]) -> None:
        """Send traffic to instances by weight (instance id -> weight)."""
        ...

    def weights(self) -> dict[str, int]:
        """Current share of traffic per version, in percent."""
        ...
