"""Maintenance mode: while it is on, the proxy answers every public request itself.

A runbook turns it on before work that must not see traffic (a database restore), with a
message for users; the public port then answers 503 without touching any backend until it
is turned off. The state file keeps it, so a restarted proxy comes back in maintenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_CHARS = 500
RETRY_AFTER_SECONDS = 30
MAINTENANCE_HEADER = "X-Rollgate-Maintenance"


@dataclass(frozen=True)
class Maintenance:
    """Maintenance is on: the message users see and since when (epoch seconds)."""

    message: str
    since: float

    def to_json(self) -> dict[str, Any]:
        """Return ``{"message", "since"}``."""
        return {"message": self.message, "since": self.since}


def check_message(value: object) -> str:
    """Return ``value`` if it is a usable maintenance message; ``ValueError`` saying why not."""
    if not isinstance(value, str):
        raise ValueError(f"message must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("message must not be empty")
    if len(value) > MAX_MESSAGE_CHARS:
        raise ValueError(
            f"message must be at most {MAX_MESSAGE_CHARS} characters, got {len(value)}"
        )
    return value


def parse_request(body: object) -> str:
    """Return the message of a ``PUT /maintenance`` body; ``ValueError`` saying what is wrong."""
    if not isinstance(body, dict):
        raise ValueError('body must be a JSON object like {"message": "back soon"}')
    unknown = sorted(set(body) - {"message"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}; only 'message'")
    if "message" not in body:
        raise ValueError('message is required, e.g. {"message": "back soon"}')
    return check_message(body["message"])


def parse_maintenance(raw: object) -> Maintenance | None:
    """Read the state file's ``maintenance`` value (``None`` is off); ``ValueError`` if unusable."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"maintenance must be an object or null, got {type(raw).__name__}")
    since = raw.get("since")
    if isinstance(since, bool) or not isinstance(since, int | float):
        raise ValueError(f"maintenance.since must be a number, got {since!r}")
    return Maintenance(message=check_message(raw.get("message")), since=float(since))
