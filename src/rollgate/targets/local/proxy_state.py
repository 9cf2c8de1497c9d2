"""The proxy's state file: routes, maintenance, addresses and pid, written atomically.

A restarted proxy resumes routing from it at once, and a restarted rollgate reads it
to find (re-adopt) the proxy that kept running without it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollgate.targets.local.proxy_maintenance import Maintenance, parse_maintenance
from rollgate.targets.local.proxy_routes import Backend, parse_routes


@dataclass(frozen=True)
class ProxyState:
    """What the state file holds."""

    pid: int
    listen: str
    admin: str
    backends: tuple[Backend, ...] = ()
    updated_at: float = field(default_factory=time.time)
    maintenance: Maintenance | None = None

    @property
    def admin_url(self) -> str:
        """Return the admin API base URL."""
        return f"http://{self.admin}"

    def to_json(self) -> dict[str, Any]:
        """Return the state as a JSON object."""
        return {
            "pid": self.pid,
            "listen": self.listen,
            "admin": self.admin,
            "backends": [b.to_json() for b in self.backends],
            "updated_at": self.updated_at,
            "maintenance": self.maintenance.to_json() if self.maintenance else None,
        }


def write_state(path: Path, state: ProxyState) -> None:
    """Write the state file atomically: a temporary sibling, fsync, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(state.to_json(), out, indent=2)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def read_state(path: Path) -> ProxyState | None:
    """Read the state file; ``None`` if it does not exist, ``ValueError`` if it is unusable.

    Files written before maintenance mode existed have no ``maintenance`` key: off.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        raw = json.loads(text)
        table = parse_routes({"backends": raw["backends"]})
        return ProxyState(
            pid=int(raw["pid"]),
            listen=str(raw["listen"]),
            admin=str(raw["admin"]),
            backends=table.backends,
            updated_at=float(raw.get("updated_at", 0.0)),
            maintenance=parse_maintenance(raw.get("maintenance")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"proxy state file {path} is unusable: {exc}") from exc
