"""Per-version request statistics kept by the proxy.

Each version keeps a ring of the last hour in one-second slots (counts per status
class and a sparse log-spaced latency histogram), plus running totals since start.
Recording a request is a handful of list and dict updates; percentiles are computed
only when someone asks for a summary.

A bucket ``i >= 1`` holds latencies in ``(MIN * 1.04**(i-1), MIN * 1.04**i]``; the window
summary lists the non-empty ones as ``[upper_bound_ms, count]`` (non-cumulative), so metric
sources can judge distributions, not just three percentiles.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

CLASSES = ("2xx", "3xx", "4xx", "5xx")
RING_SECONDS = 3600

# Latency buckets grow by 4% each, so the geometric middle of a bucket is within 2%
# of any value in it. Bucket 0 holds everything up to 10 us, the last bucket from 100 s.
_MIN_SECONDS = 1e-5
_MAX_SECONDS = 100.0
_LOG_RATIO = math.log(1.04)
_BUCKETS = math.ceil(math.log(_MAX_SECONDS / _MIN_SECONDS) / _LOG_RATIO) + 1

# Prometheus histogram bounds (seconds), 1 ms to 10 s.
PROM_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def status_class(status: int) -> int:
    """Return the index into :data:`CLASSES` for an HTTP status (1xx counts as 2xx)."""
    index = status // 100 - 2
    return 0 if index < 0 else 3 if index > 3 else index


def latency_bucket(seconds: float) -> int:
    """Return the log-spaced histogram bucket for a latency in seconds."""
    if seconds <= _MIN_SECONDS:
        return 0
    index = int(math.log(seconds / _MIN_SECONDS) / _LOG_RATIO) + 1
    return index if index < _BUCKETS else _BUCKETS - 1


def bucket_seconds(index: int) -> float:
    """Return the representative latency (geometric middle) of a histogram bucket."""
    if index <= 0:
        return _MIN_SECONDS
    return _MIN_SECONDS * math.exp((index - 0.5) * _LOG_RATIO)


def bucket_upper_ms(index: int) -> float | None:
    """Return a bucket's upper bound in ms (6 significant digits); None for the open last one."""
    if index >= _BUCKETS - 1:
        return None
    return float(f"{_MIN_SECONDS * math.exp(index * _LOG_RATIO) * 1000.0:.6g}")


def bucket_lower_ms(upper_ms: float | None) -> float | None:
    """Return the lower bound (ms) of the bucket whose upper bound is ``upper_ms``.

    ``None`` as the argument is the open last bucket; ``None`` as the result means the
    first bucket, which starts at 0. Readers of the sparse ``[upper, count]`` pairs need
    it: the previous pair listed is not necessarily the previous bucket.
    """
    if upper_ms is None:
        return bucket_upper_ms(_BUCKETS - 2)
    index = round(math.log(upper_ms / 1000.0 / _MIN_SECONDS) / _LOG_RATIO)
    return bucket_upper_ms(index - 1) if index >= 1 else None


def histogram_pairs(hist: dict[int, int]) -> list[tuple[float | None, int]]:
    """Return a sparse histogram as ``(upper_bound_ms, count)`` pairs, fastest first."""
    return [(bucket_upper_ms(bucket), hist[bucket]) for bucket in sorted(hist) if hist[bucket]]


def percentiles(hist: dict[int, int], total: int, quantiles: tuple[float, ...]) -> list[float]:
    """Return nearest-rank percentiles (seconds) from a sparse histogram of ``total`` samples."""
    ranks = [max(1, math.ceil(q * total)) for q in quantiles]
    results: list[float] = [0.0] * len(ranks)
    order = sorted(range(len(ranks)), key=ranks.__getitem__)
    seen = 0
    position = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        while position < len(order) and ranks[order[position]] <= seen:
            results[order[position]] = bucket_seconds(bucket)
            position += 1
        if position == len(order):
            break
    return results


class _Second:
    """One second of one version: counts per class and a sparse latency histogram."""

    __slots__ = ("counts", "hist", "second", "upstream_errors")

    def __init__(self, second: int) -> None:
        self.second = second
        self.counts = [0, 0, 0, 0]
        self.hist: dict[int, int] = {}
        self.upstream_errors = 0


class VersionStats:
    """The ring of recent seconds and the since-start totals for one version."""

    __slots__ = ("counts", "hist", "prom_buckets", "prom_sum", "ring", "upstream_errors")

    def __init__(self) -> None:
        self.ring: list[_Second | None] = [None] * RING_SECONDS
        self.counts = [0, 0, 0, 0]
        self.hist: dict[int, int] = {}
        self.prom_buckets = [0] * (len(PROM_BOUNDS) + 1)
        self.prom_sum = 0.0
        self.upstream_errors = 0

    def record(self, status: int, seconds: float, now: float, upstream_error: bool) -> None:
        """Count one finished request (or failed upstream attempt) at monotonic time ``now``."""
        klass = status_class(status)
        bucket = latency_bucket(seconds)
        second = int(now)
        slot = self.ring[second % RING_SECONDS]
        if slot is None or slot.second != second:
            slot = self.ring[second % RING_SECONDS] = _Second(second)
        slot.counts[klass] += 1
        slot.hist[bucket] = slot.hist.get(bucket, 0) + 1
        self.counts[klass] += 1
        self.hist[bucket] = self.hist.get(bucket, 0) + 1
        self.prom_buckets[bisect_left(PROM_BOUNDS, seconds)] += 1
        self.prom_sum += seconds
        if upstream_error:
            slot.upstream_errors += 1
            self.upstream_errors += 1

    def window(self, seconds: int, now: float) -> tuple[list[int], dict[int, int], int]:
        """Merge the slots of the last ``seconds`` seconds: counts, histogram, upstream errors."""
        newest = int(now)
        oldest = newest - seconds
        counts = [0, 0, 0, 0]
        hist: dict[int, int] = {}
        errors = 0
        for slot in self.ring:
            if slot is None or not oldest < slot.second <= newest:
                continue
            for i, n in enumerate(slot.counts):
                counts[i] += n
            for bucket, n in slot.hist.items():
                hist[bucket] = hist.get(bucket, 0) + n
            errors += slot.upstream_errors
        return counts, hist, errors


def summarise(counts: list[int], hist: dict[int, int], upstream_errors: int) -> dict[str, Any]:
    """Return the JSON summary of one version: counts per class, error rate, percentiles."""
    total = sum(counts)
    summary: dict[str, Any] = {"requests": total}
    summary.update(zip(CLASSES, counts, strict=True))
    summary["upstream_errors"] = upstream_errors
    if total:
        p50, p95, p99 = percentiles(hist, total, (0.50, 0.95, 0.99))
        summary["error_rate"] = counts[3] / total
        summary.update(p50_ms=_ms(p50), p95_ms=_ms(p95), p99_ms=_ms(p99))
    else:
        # No traffic is "no data", which analysis must tell apart from "no errors".
        summary.update(error_rate=None, p50_ms=None, p95_ms=None, p99_ms=None)
    return summary


# Read-only stand-in for a version that has not been sent a request yet.
NO_TRAFFIC = VersionStats()


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


class ProxyStats:
    """Statistics for every version the proxy has sent traffic to.

    Answers the proxy gave itself in maintenance mode belong to no version: they are only
    counted in ``maintenance_responses``, so they never show as a version's 5xx.
    """

    def __init__(self) -> None:
        self.versions: dict[str, VersionStats] = {}
        self.maintenance_responses = 0

    def record_maintenance(self) -> None:
        """Count one public request answered by maintenance mode."""
        self.maintenance_responses += 1

    def record(
        self, version: str, status: int, seconds: float, now: float, upstream_error: bool = False
    ) -> None:
        """Count one request served by ``version`` (``now`` from ``time.monotonic``)."""
        stats = self.versions.get(version)
        if stats is None:
            stats = self.versions[version] = VersionStats()
        stats.record(status, seconds, now, upstream_error)

    def summary(self, window: float, now: float, known: tuple[str, ...] = ()) -> dict[str, Any]:
        """Summarise each version over the last ``window`` seconds and since start.

        Versions in ``known`` (the current routes) appear even before their first request,
        so a caller sees "no data yet" rather than a missing key. Each window row also
        carries ``errors`` (5xx, failed upstream attempts included) and ``histogram``
        (``[upper_bound_ms | None, count]`` pairs); the admin API drops those two unless
        asked, so the everyday ``/stats`` stays small. ``maintenance`` is the number of
        requests maintenance mode answered since start.
        """
        seconds = min(RING_SECONDS, max(1, math.ceil(window)))
        names = sorted(set(self.versions) | set(known))
        recent: dict[str, Any] = {}
        since_start: dict[str, Any] = {}
        for name in names:
            stats = self.versions.get(name) or NO_TRAFFIC
            counts, hist, upstream_errors = stats.window(seconds, now)
            recent[name] = summarise(counts, hist, upstream_errors)
            recent[name].update(errors=counts[3], histogram=histogram_pairs(hist))
            since_start[name] = summarise(stats.counts, stats.hist, stats.upstream_errors)
        return {
            "window": seconds,
            "versions": recent,
            "since_start": since_start,
            "maintenance": self.maintenance_responses,
        }
