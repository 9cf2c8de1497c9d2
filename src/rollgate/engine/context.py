"""What workflow steps see of this process (steps get only serializable arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from rollgate.store.db import Database


class StepRuntime(Protocol):
    """The parts of the runtime that steps use."""

    db: Database
    state_dir: Path
    executor_id: str


_current: StepRuntime | None = None


def current() -> StepRuntime:
    """The runtime that started the engine in this process."""
    if _current is None:
        raise RuntimeError("the rollgate engine is not started in this process")
    return _current


def set_current(rt: StepRuntime | None) -> None:
    """Install (or clear) the runtime steps use."""
    global _current
    _current = rt
