"""Switchable faults for the demo service, read live from a JSON file.

    {"v3": {"health": "fail"},
     "v4": {"error_rate": 0.2, "latency_ms": 150, "crash_at_start": false, "start_delay": 0},
     "*":  {...}}

``"*"`` applies to every version; a version's own keys override it. The file is checked
at most every 0.5 s and re-read when it changes, so a scenario flips a fault on a
running version by rewriting the file (use :func:`write_faults`, which is atomic).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FAULTS_ENV = "ROLLGATE_DEMO_FAULTS"
CHECK_INTERVAL = 0.5


@dataclass(frozen=True)
class Faults:
    """The faults in force for one version."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    health: str = "ok"
    crash_at_start: bool = False
    start_delay: float = 0.0


NO_FAULTS = Faults()
_KEYS = frozenset(f.name for f in fields(Faults))


def faults_for(mapping: Mapping[str, Any], version: str) -> Faults:
    """Merge the ``"*"`` entry and the version's entry; ``ValueError`` if a value is bad."""
    merged: dict[str, Any] = {}
    for key in ("*", version):
        entry = mapping.get(key, {})
        if not isinstance(entry, Mapping):
            raise ValueError(f"{key}: expected an object of faults")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise ValueError(f"{key}: unknown fault(s) {', '.join(unknown)}")
        merged.update(entry)
    faults = Faults(
        error_rate=float(merged.get("error_rate", 0.0)),
        latency_ms=float(merged.get("latency_ms", 0.0)),
        health=str(merged.get("health", "ok")),
        crash_at_start=bool(merged.get("crash_at_start", False)),
        start_delay=float(merged.get("start_delay", 0.0)),
    )
    if not 0.0 <= faults.error_rate <= 1.0:
        raise ValueError(f"error_rate must be within 0..1, got {faults.error_rate}")
    if faults.health not in ("ok", "fail"):
        raise ValueError(f'health must be "ok" or "fail", got {faults.health!r}')
    if faults.latency_ms < 0 or faults.start_delay < 0:
        raise ValueError("latency_ms and start_delay must be >= 0")
    return faults


def write_faults(path: Path, mapping: Mapping[str, Mapping[str, Any]]) -> None:
    """Write a faults file atomically, so a running demo never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(mapping, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class FaultsFile:
    """The faults of one version, re-read from the file when it changes."""

    def __init__(
        self, path: Path | None, version: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.version = version
        self._clock = clock
        self._checked = float("-inf")
        self._signature: tuple[int, int, int] | None = None
        self._faults = NO_FAULTS

    def current(self) -> Faults:
        """Return the faults in force now (stat-ing the file at most every 0.5 s)."""
        if self.path is None:
            return NO_FAULTS
        now = self._clock()
        if now - self._checked >= CHECK_INTERVAL:
            self._checked = now
            self._reload_if_changed(self.path)
        return self._faults

    def _reload_if_changed(self, path: Path) -> None:
        try:
            info = path.stat()
        except FileNotFoundError:
            if self._signature is not None:
                log.info("faults file %s removed; no faults for %s", path, self.version)
            self._signature, self._faults = None, NO_FAULTS
            return
        signature = (info.st_ino, info.st_mtime_ns, info.st_size)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(mapping, dict):
                raise ValueError("expected a JSON object keyed by version")
            faults = faults_for(mapping, self.version)
        except (OSError, ValueError) as exc:
            log.warning("ignoring faults file %s (keeping the previous faults): %s", path, exc)
            return
        if faults != self._faults:
            log.info("faults for %s now %s", self.version, faults)
        self._faults = faults
