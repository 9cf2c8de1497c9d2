"""The metric-source contract and the one data shape analysis reads: a ``Window``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Protocol


@dataclass(frozen=True)
class Window:
    """What one version did over the last ``seconds``: requests, 5xx, latency histogram.

    ``latency`` maps a bucket's upper bound in milliseconds to the number of requests that
    took at most that long and more than the previous bound (non-cumulative counts; the
    last bound may be ``math.inf``). Sources with different layouts are never mixed in one
    comparison: the canary and the baseline come from the same source.
    """

    version: str
    seconds: float
    requests: int
    errors: int
    latency: dict[float, int] = field(default_factory=dict)
    extra: dict[str, float | None] = field(default_factory=dict)

    @property
    def error_rate(self) -> float | None:
        """Share of requests answered 5xx; None without requests (no data is not 0%)."""
        return self.errors / self.requests if self.requests else None

    @property
    def request_rate(self) -> float:
        """Requests per second over the window."""
        return self.requests / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float | None:
        """Latency quantile in ms, interpolated inside its bucket; None without data."""
        total = sum(self.latency.values())
        if total == 0:
            return None
        rank = q * total
        seen = 0
        lower = 0.0
        for bound in sorted(self.latency):
            count = self.latency[bound]
            if count and seen + count >= rank:
                upper = bound if math.isfinite(bound) else lower * 2 or 1.0
                return lower + (upper - lower) * ((rank - seen) / count)
            seen += count
            lower = bound if math.isfinite(bound) else lower
        return lower


class MetricSource(Protocol):
    """Reads what a version of a service did over a window."""

    kind: ClassVar[str]

    def window(self, version: str, seconds: float) -> Window:
        """Counts and latency of ``version`` over the last ``seconds``."""
        ...
