"""The proxy's routing table: backends, validation and weighted choice.

No aiohttp here, so the admin client can share :class:`Backend` without pulling in
the server.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_BACKEND_KEYS = frozenset({"version", "url", "weight"})


@dataclass(frozen=True, slots=True)
class Backend:
    """One upstream: the version it runs, its base URL and its share of traffic."""

    version: str
    url: str
    weight: int

    def to_json(self) -> dict[str, Any]:
        """Return the backend as the JSON object the admin API speaks."""
        return {"version": self.version, "url": self.url, "weight": self.weight}


class RouteTable:
    """An immutable list of backends with a precomputed weighted picker.

    The proxy swaps the whole table in one assignment, so a request sees either the
    old table or the new one, never a mix.
    """

    __slots__ = ("_cumulative", "_live", "_total", "backends")

    def __init__(self, backends: list[Backend] | tuple[Backend, ...] = ()) -> None:
        self.backends: tuple[Backend, ...] = tuple(backends)
        self._live = tuple(b for b in self.backends if b.weight > 0)
        cumulative: list[int] = []
        total = 0
        for backend in self._live:
            total += backend.weight
            cumulative.append(total)
        self._cumulative = cumulative
        self._total = total

    def pick(self) -> Backend | None:
        """Choose a backend by weighted random; ``None`` if every weight is 0."""
        if not self._total:
            return None
        if len(self._live) == 1:
            return self._live[0]
        point = random.random() * self._total
        return self._live[bisect_right(self._cumulative, point)]

    def pick_other(self, failed: Backend) -> Backend | None:
        """Choose a backend by weight among those other than ``failed``."""
        others = [b for b in self._live if b.url != failed.url]
        if not others:
            return None
        return random.choices(others, weights=[b.weight for b in others])[0]

    def to_json(self) -> dict[str, Any]:
        """Return the table as the admin API's ``{"backends": [...]}`` body."""
        return {"backends": [b.to_json() for b in self.backends]}


def parse_backend(raw: object, index: int) -> Backend:
    """Validate one backend object from JSON; raise ``ValueError`` saying what is wrong."""
    where = f"backends[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object with version, url and weight")
    unknown = sorted(set(raw) - _BACKEND_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    missing = sorted(_BACKEND_KEYS - set(raw))
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    version, url, weight = raw["version"], raw["url"], raw["weight"]
    if not isinstance(version, str) or not version.strip():
        raise ValueError(f"{where}.version: expected a non-empty string")
    if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
        raise ValueError(f"{where}.weight: expected an integer >= 0, got {weight!r}")
    if not isinstance(url, str):
        raise ValueError(f"{where}.url: expected a string like http://127.0.0.1:8000")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{where}.url: expected http://HOST[:PORT], got {url!r}")
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ValueError(f"{where}.url: give only scheme, host and port, got {url!r}")
    try:
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{where}.url: invalid port in {url!r}") from None
    return Backend(version=version, url=url.rstrip("/"), weight=weight)


def parse_routes(body: object) -> RouteTable:
    """Validate an admin ``{"backends": [...]}`` body into a table; ``ValueError`` if bad."""
    if not isinstance(body, dict) or set(body) != {"backends"}:
        raise ValueError('expected a JSON object {"backends": [...]}')
    raw = body["backends"]
    if not isinstance(raw, list):
        raise ValueError("backends: expected a list")
    backends = [parse_backend(item, i) for i, item in enumerate(raw)]
    urls = [b.url for b in backends]
    duplicates = sorted({u for u in urls if urls.count(u) > 1})
    if duplicates:
        raise ValueError(f"backends: each url may appear once, repeated: {', '.join(duplicates)}")
    return RouteTable(backends)
