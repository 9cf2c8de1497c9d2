"""Probe traffic: rollgate's own requests to each version, measured client-side.

Before a blue-green switch, green serves no users: to judge it against blue, rollgate sends
both the same synthetic requests directly (one load loop per version) and reads the
answers as a metric source.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rollgate.demo.load import LoadLoop
from rollgate.metrics.base import Window
from rollgate.targets.local.proxy_stats import bucket_upper_ms, latency_bucket


class ProbeSource:
    """Windows built from the samples of one load loop per version."""

    kind: ClassVar[str] = "probe"

    def __init__(self, loops: dict[str, LoadLoop]) -> None:
        self.loops = loops

    def window(self, version: str, seconds: float) -> Window:
        """What the probes to ``version`` saw over the last ``seconds``."""
        since = time.monotonic() - seconds
        samples = [s for s in self.loops[version].samples() if s.at >= since]
        latency: dict[float, int] = {}
        for sample in samples:
            index = latency_bucket(sample.seconds)
            upper = bucket_upper_ms(index)
            key = float("inf") if upper is None else upper
            latency[key] = latency.get(key, 0) + 1
            if index > 0:  # a bucket's lower bound, so quantiles interpolate inside it
                lower = bucket_upper_ms(index - 1)
                if lower is not None:
                    latency.setdefault(lower, 0)
        errors = sum(1 for s in samples if s.status == 0 or s.status >= 500)
        return Window(version=version, seconds=seconds, requests=len(samples), errors=errors,
                      latency=latency)
