"""Turn "everything since the analysis started" windows into increments and sliding windows.

The analyzer asks its metric source for one window per version per evaluation, covering
the time since an anchor. Differences between successive
windows are the increments the sequential tests need; running totals of the increments
and snapshots of them give every rule its own sliding window, whatever its length, from
that one query. The analyzer moves the anchor forward now and then (:meth:`Ledger.rebase`)
so sources with a bounded history (the built-in proxy keeps one hour) are never asked for
more than they hold.

Histograms are kept as count vectors over :class:`Buckets`, the bucket bounds seen so
far (shared by both versions, so their vectors line up), because the judge reads them
every second and vector arithmetic is what keeps that cheap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rollgate.metrics.base import Window

Counts = npt.NDArray[np.int64]


class Buckets:
    """The histogram bucket bounds seen so far, in arrival order, and their sorted order."""

    def __init__(self) -> None:
        self.index: dict[float, int] = {}
        self.bounds: list[float] = []
        self.array: npt.NDArray[np.float64] = np.empty(0)
        self.order: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)
        self.sorted_bounds: npt.NDArray[np.float64] = np.empty(0)

    def __len__(self) -> int:
        return len(self.bounds)

    def vector(self, hist: Mapping[float, int]) -> Counts:
        """Counts of ``hist`` as a vector over the bounds (new bounds are added)."""
        index = self.index
        if not index.keys() >= hist.keys():
            for bound in hist:
                if bound not in index:
                    index[bound] = len(self.bounds)
                    self.bounds.append(bound)
            self.array = np.array(self.bounds)
            self.order = np.argsort(self.array, kind="stable")
            self.sorted_bounds = self.array[self.order]
        out = np.zeros(len(self.bounds), dtype=np.int64)
        if hist:
            size = len(hist)
            out[np.fromiter(map(index.__getitem__, hist), np.intp, size)] = np.fromiter(
                hist.values(), np.int64, size
            )
        return out

    def fit(self, counts: Counts) -> Counts:
        """``counts`` padded with zeros for bounds that appeared after it was made."""
        missing = len(self.bounds) - counts.shape[0]
        return np.concatenate([counts, np.zeros(missing, dtype=np.int64)]) if missing else counts

    def ordered(self, counts: Counts) -> Counts:
        """``counts`` in increasing bound order (aligned with :attr:`sorted_bounds`)."""
        return self.fit(counts)[self.order]

    def mapping(self, counts: Counts) -> dict[float, int]:
        """``counts`` as a ``{upper_bound_ms: count}`` histogram without empty buckets."""
        bounds = self.bounds
        nonzero = np.flatnonzero(counts)
        return dict(zip(map(bounds.__getitem__, nonzero.tolist()), counts[nonzero].tolist(),
                        strict=True))


@dataclass(frozen=True)
class Data:
    """Requests, 5xx and a latency count vector over some seconds."""

    seconds: float
    requests: int
    errors: int
    latency: Counts

    def window(self, version: str, buckets: Buckets,
               extra: dict[str, float | None] | None = None) -> Window:
        """The same data as a :class:`Window`."""
        return Window(version, self.seconds, self.requests, self.errors,
                      buckets.mapping(self.latency), dict(extra or {}))


class Ledger:
    """One version's data: increments, running totals and snapshots of the totals."""

    def __init__(self, buckets: Buckets, started: float, keep: float) -> None:
        self.buckets = buckets
        self.started = started
        self.keep = keep
        self.version = ""
        self.last: Data | None = None
        self.requests = 0
        self.errors = 0
        self.latency: Counts = np.zeros(0, dtype=np.int64)
        self.extra: dict[str, float | None] = {}
        self.times: list[float] = []
        self.snaps: list[tuple[int, int, Counts]] = []

    def add(self, now: float, window: Window) -> Data:
        """Take the window since the anchor at ``now``; return the increment it brings."""
        fit = self.buckets.fit
        self.version = window.version
        self.extra = window.extra
        seen = Data(window.seconds, window.requests, window.errors,
                    self.buckets.vector(window.latency))
        last = self.last
        if last is None:
            inc = seen
        else:
            inc = Data(
                max(seen.seconds - last.seconds, 0.0),
                max(seen.requests - last.requests, 0),
                max(seen.errors - last.errors, 0),
                np.maximum(seen.latency - fit(last.latency), 0),
            )
        self.requests += inc.requests
        self.errors += inc.errors
        self.latency = fit(self.latency) + inc.latency
        if self.keep > 0:
            self.times.append(now)
            self.snaps.append((self.requests, self.errors, self.latency))
            self._prune(now)
        self.last = seen
        return inc

    def rebase(self) -> None:
        """The next window starts at a new anchor: take it whole, as an increment."""
        self.last = None

    def total(self, now: float) -> Data:
        """Everything since the analysis started."""
        return Data(max(now - self.started, 0.0), self.requests, self.errors,
                    self.buckets.fit(self.latency))

    def sliding(self, now: float, seconds: float) -> Data:
        """The last ``seconds`` (or all data, when the analysis is younger than that)."""
        i = bisect_right(self.times, now - seconds) - 1
        if i < 0:
            return self.total(now)
        requests, errors, latency = self.snaps[i]
        return Data(now - self.times[i], self.requests - requests, self.errors - errors,
                    self.buckets.fit(self.latency) - self.buckets.fit(latency))

    def _prune(self, now: float) -> None:
        """Drop snapshots no sliding window can reach any more (keeping one just older)."""
        i = bisect_right(self.times, now - self.keep) - 1
        if i > 0:
            del self.times[:i]
            del self.snaps[:i]
