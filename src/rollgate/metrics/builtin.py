"""The built-in metric source: the local proxy's own per-version counters.

It reads ``/stats?window=N&histogram=1`` on the proxy's admin API, so it needs nothing
but the proxy: requests, 5xx (failed upstream attempts included) and the latency
histogram in 4%-wide buckets, over any window up to the hour the proxy keeps.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rollgate.errors import TargetError
from rollgate.metrics.base import Window
from rollgate.targets.local.proxy_client import ProxyClient
from rollgate.targets.local.proxy_stats import bucket_lower_ms


class BuiltinSource:
    """Reads windows from the proxy at ``admin_url``, e.g. ``BuiltinSource("http://127.0.0.1:45678")``."""

    kind: ClassVar[str] = "builtin"

    def __init__(self, admin_url: str, *, timeout: float = 5.0) -> None:
        self._client = ProxyClient(admin_url, timeout=timeout)

    def __enter__(self) -> BuiltinSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection to the proxy."""
        self._client.close()

    def window(self, version: str, seconds: float) -> Window:
        """Requests, 5xx and latency of ``version`` over the last ``seconds`` (at most 3600)."""
        body = self._client.stats(seconds, histogram=True)
        try:
            covered = float(body["window"])
            row = body["versions"].get(version)
            if row is None:  # never routed and never sent a request: no data
                return Window(version=version, seconds=covered, requests=0, errors=0)
            return Window(
                version=version,
                seconds=covered,
                requests=int(row["requests"]),
                errors=int(row["errors"]),
                latency=_latency(row["histogram"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TargetError(
                f"the proxy at {self._client.admin_url} sent /stats without the latency "
                f"histogram rollgate reads ({type(exc).__name__}: {exc}); it is probably "
                "older than this rollgate: restart it (rollgate down, then deploy again)"
            ) from exc


def _latency(pairs: list[Any]) -> dict[float, int]:
    """Turn ``[[upper_bound_ms | None, count], ...]`` into a Window histogram.

    The proxy lists only non-empty buckets, but a Window reads each count as lying
    between the previous key and its own: every bucket's lower bound goes in at zero.
    """
    latency: dict[float, int] = {}
    for bound, count in pairs:
        upper = math.inf if bound is None else float(bound)
        latency[upper] = latency.get(upper, 0) + int(count)
        lower = bucket_lower_ms(None if bound is None else upper)
        if lower is not None:
            latency.setdefault(lower, 0)
    return dict(sorted(latency.items()))
