"""A seeded traffic simulator in simulated time, for ``rollgate plan`` and ``bench/canary``.

Every second, ``rps`` requests (Poisson) are split by weight between stable and the
canary; each version's 5xx are binomial and its latencies log-normal, binned into
log-spaced histogram buckets the way a metric source reports them. Both versions share
the service's bad moments ("incidents": a dependency hiccup raising errors and latency
for everyone), which is what makes canary-only thresholds roll back good canaries. A
:class:`Fault` describes what is wrong with the canary; ``Fault()`` is a good canary, and
``jitter`` gives good canaries the small per-instance differences real ones have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from rollgate.analysis.analyzer import Analyzer
from rollgate.metrics.base import Window
from rollgate.spec.analysis import Analysis

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

BUCKET_RATIO = 1.08
"""Histogram buckets grow by 8%, from 1 ms to about a minute, then one open bucket."""
MAX_MS = 60_000.0


@lru_cache(maxsize=1)
def bucket_bounds() -> FloatArray:
    """Upper bounds (ms) of the simulated histogram buckets, the last one infinite.

    Bucket ``i`` holds latencies in ``(1.08**(i-1), 1.08**i]`` ms (bucket 0: up to 1 ms).
    """
    count = math.ceil(math.log(MAX_MS) / math.log(BUCKET_RATIO)) + 1
    bounds = np.array([*(BUCKET_RATIO**i for i in range(count)), math.inf])
    bounds.flags.writeable = False
    return bounds


@dataclass(frozen=True)
class Traffic:
    """The service: load, split, stable's errors and latency, shared incidents."""

    rps: float = 100.0
    canary_weight: float = 0.10
    error_rate: float = 0.005
    median_ms: float = 100.0
    sigma: float = 0.5
    incidents_per_hour: float = 1.0
    incident_seconds: float = 20.0
    incident_error_rate: float = 0.05
    incident_latency_factor: float = 1.5


@dataclass(frozen=True)
class Fault:
    """What is wrong with the canary (the defaults: nothing)."""

    error_rate: float | None = None
    median_factor: float = 1.0
    p95_factor: float = 1.0
    slow_share: float = 0.0
    slow_factor: float = 1.0
    burst_error_rate: float = 0.0
    burst_seconds: float = 0.0
    burst_every: float = 0.0
    error_jitter: float = 0.0
    latency_jitter: float = 0.0


@dataclass
class Trace:
    """Per-second data of both versions (index 0 stable, 1 canary), summed for windows."""

    seconds: int
    bounds: FloatArray
    requests: IntArray
    errors: IntArray
    latency: IntArray

    def __post_init__(self) -> None:
        self._requests = _running(self.requests)
        self._errors = _running(self.errors)
        self._latency = _running(self.latency)
        self._bounds = self.bounds.tolist()

    def window(self, version: int, start: int, end: int) -> Window:
        """What ``version`` did in seconds ``[start, end)``, as a metric source reports it."""
        hist = self._latency[version, end] - self._latency[version, start]
        nonzero = np.flatnonzero(hist)
        bounds = self._bounds
        return Window(
            "canary" if version else "stable",
            float(end - start),
            int(self._requests[version, end] - self._requests[version, start]),
            int(self._errors[version, end] - self._errors[version, start]),
            dict(zip(map(bounds.__getitem__, nonzero.tolist()), hist[nonzero].tolist(),
                     strict=True)),
        )

    def canary_errors(self, end: int) -> int:
        """5xx the canary served to users in its first ``end`` seconds."""
        return int(self._errors[1, end])


def _running(per_second: IntArray) -> IntArray:
    """Sums over seconds ``[0, t)`` for every ``t`` (axis 1), so windows are differences."""
    shape = list(per_second.shape)
    shape[1] += 1
    out = np.zeros(shape, dtype=np.int64)
    np.cumsum(per_second, axis=1, out=out[:, 1:])
    return out


def _episodes(rng: np.random.Generator, seconds: int, every: float, length: float) -> FloatArray:
    """0/1 per second: episodes of ``length`` seconds starting on average every ``every``."""
    on = np.zeros(seconds)
    if every <= 0 or length <= 0:
        return on
    t = rng.exponential(every)
    while t < seconds:
        on[int(t): int(t + length)] = 1.0
        t += length + rng.exponential(every)
    return on


def simulate(traffic: Traffic, fault: Fault, *, seconds: int = 3600, seed: int = 0) -> Trace:
    """Draw ``seconds`` of traffic for stable and a canary with ``fault``."""
    rng = np.random.default_rng(seed)
    incident = _episodes(rng, seconds, 3600.0 / traffic.incidents_per_hour
                         if traffic.incidents_per_hour > 0 else 0.0, traffic.incident_seconds)
    burst = _episodes(rng, seconds, fault.burst_every, fault.burst_seconds)
    total = rng.poisson(traffic.rps, seconds)
    canary_n = rng.binomial(total, traffic.canary_weight)
    requests = np.stack([total - canary_n, canary_n]).astype(np.int64)

    canary_rate = traffic.error_rate if fault.error_rate is None else fault.error_rate
    canary_rate *= math.exp(rng.normal(0.0, fault.error_jitter)) if fault.error_jitter else 1.0
    lift = traffic.incident_error_rate
    stable_p = np.where(incident > 0, np.maximum(traffic.error_rate, lift), traffic.error_rate)
    canary_p = np.where(incident > 0, np.maximum(canary_rate, lift), canary_rate)
    canary_p = np.where(burst > 0, np.maximum(canary_p, fault.burst_error_rate), canary_p)
    errors = rng.binomial(requests, np.clip(np.stack([stable_p, canary_p]), 0.0, 1.0))

    median = traffic.median_ms * fault.median_factor
    if fault.latency_jitter:
        median *= math.exp(rng.normal(0.0, fault.latency_jitter))
    # p95 / median = exp(1.645 sigma): widen sigma so that p95 moves by p95_factor.
    sigma = traffic.sigma + math.log(fault.p95_factor / fault.median_factor) / 1.6449
    slower = np.where(incident > 0, math.log(traffic.incident_latency_factor), 0.0)
    latency = np.stack([
        _histograms(rng, requests[0], math.log(traffic.median_ms), traffic.sigma, slower),
        _histograms(rng, requests[1], math.log(median), sigma, slower,
                    fault.slow_share, math.log(fault.slow_factor)),
    ])
    return Trace(seconds, bucket_bounds(), requests, errors.astype(np.int64), latency)


def _histograms(rng: np.random.Generator, requests: IntArray, log_median: float, sigma: float,
                slower: FloatArray, slow_share: float = 0.0, log_slow: float = 0.0) -> IntArray:
    """Per-second histograms of log-normal latencies (a ``slow_share`` of them slower).

    Latencies are drawn one by one and binned arithmetically into the geometric buckets
    of :func:`bucket_bounds`, which is several times faster than a multinomial per second.
    """
    seconds = requests.shape[0]
    width = len(bucket_bounds())
    scale = 1.0 / math.log(BUCKET_RATIO)
    logs = rng.standard_normal(int(requests.sum()))
    logs *= sigma * scale
    logs += log_median * scale
    if slower.any():
        logs += np.repeat(slower * scale, requests)
    if slow_share:
        logs += np.where(rng.random(logs.size) < slow_share, log_slow * scale, 0.0)
    index = np.ceil(logs, out=logs)
    np.clip(index, 0, width - 1, out=index)
    cell = index.astype(np.int64)
    cell += np.repeat(np.arange(seconds, dtype=np.int64) * width, requests)
    counts = np.bincount(cell, minlength=seconds * width)
    return counts.reshape(seconds, width)


@dataclass(frozen=True)
class Outcome:
    """When an analysis failed a simulated canary (None: never) and what users saw."""

    at: float | None
    canary_errors: int
    reason: str | None


def detect(config: Analysis, trace: Trace, horizon: float | None = None) -> Outcome:
    """Run an :class:`Analyzer` over a trace, evaluating every ``config.interval``."""
    analyzer = Analyzer(config, started=0.0)
    end = trace.seconds if horizon is None else min(trace.seconds, int(horizon))
    step = config.interval
    t = step
    while t <= end + 1e-9:
        now = int(t)
        start = max(0, round(now - analyzer.lookback(now)))
        verdict = analyzer.evaluate(now, trace.window(1, start, now), trace.window(0, start, now))
        if verdict.verdict == "fail":
            return Outcome(float(now), trace.canary_errors(now), verdict.reason)
        t += step
    return Outcome(None, trace.canary_errors(end), None)
