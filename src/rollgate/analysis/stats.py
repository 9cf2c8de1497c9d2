"""The statistics behind the judge: anytime-valid tests that may be checked every second.

A canary is judged while it runs, every ``interval``, for as long as it runs. A classical
test checked that often rolls back good canaries far more often than its alpha says (a
5% test looked at 60 times fails a good canary about a third of the time). Every test
here is instead a *test martingale*: a likelihood ratio (or a mixture of them) whose
expected value under "the canary is no worse" is at most 1. By Ville's inequality the
chance that it *ever* reaches ``1/alpha`` is at most ``alpha``, however often it is
looked at and whenever the looking stops, so the judge may stop a canary at the first
evidence without spending more than ``alpha`` on false rollbacks.

Counts (5xx responses, requests slower than a stable quantile): :class:`RateRatioTest`.
Condition on the events that happened in an interval: when the canary served a share
``pi`` of the requests and both versions had the same per-request event rate, each event
came from the canary with probability ``pi`` (exactly so for Poisson counts; for binomial
counts the conditional law is hypergeometric, which Hoeffding's convex-order inequality
shows only makes the martingale smaller). If the canary's rate is ``rho`` times stable's,
that probability is ``pi*rho / (pi*rho + 1 - pi)``. The likelihood ratio of ``rho`` against
``rho0`` multiplies over intervals, so traffic splits may change during the analysis
(10% -> 50%), and stable's own rate (and its swings: an incident hitting both versions)
drops out. Mixing over a grid of ``rho`` values gives power against small and large
regressions alike. This is the approach of Lindon, Sanden and Shirikian, "Rapid
regression detection in software deployments through sequential testing" (KDD 2022).
It was chosen over a normal-approximation mSPRT on the two rates because error counts
are small (a 10% canary at 10 requests/s sees a handful of 5xx a minute), where the
normal approximation is poor; and over a Bayesian posterior threshold because that
needs a prior on stable's rate and a simulation to calibrate alpha, whereas this bound
holds as proved.

Latency distributions: :func:`mann_whitney` computes the Mann-Whitney U of the canary's
histogram against stable's (requests in the same bucket are ties and count one half;
the variance carries the tie correction), and :func:`half_normal_mixture_log_lr` turns
the standardised statistic into Robbins' normal-mixture likelihood ratio (the mSPRT of
Johari et al., "Always valid inference", 2017), one-sided. Its validity rests on the
U statistic behaving like Brownian motion as samples accrue, which holds asymptotically;
the judge waits for ``min_samples`` before it looks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SQRT2 = math.sqrt(2.0)
Counts = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U of the canary against the baseline, from histograms."""

    u: float
    n_canary: int
    n_baseline: int
    variance: float

    @property
    def auc(self) -> float:
        """P(canary request slower than a baseline one), ties counting half."""
        return self.u / (self.n_canary * self.n_baseline)

    @property
    def z(self) -> float:
        """Standardised U under "same distribution" (0 when every value ties)."""
        if self.variance <= 0:
            return 0.0
        return (self.u - self.n_canary * self.n_baseline / 2.0) / math.sqrt(self.variance)

    @property
    def auc_variance(self) -> float:
        """Variance of :attr:`auc` under "same distribution"."""
        return self.variance / float(self.n_canary * self.n_baseline) ** 2


class Histogram:
    """Latency counts in increasing bucket order, with running sums for quantiles."""

    __slots__ = ("bounds", "counts", "cum", "total")

    def __init__(self, counts: Counts, bounds: npt.NDArray[np.float64]) -> None:
        self.counts = counts
        self.bounds = bounds
        self.cum = counts.cumsum()
        self.total = int(self.cum[-1]) if self.cum.size else 0

    def index(self, q: float) -> int | None:
        """Position of the bucket holding the ``q`` quantile; None without data."""
        if self.total == 0:
            return None
        return min(int(self.cum.searchsorted(q * self.total, side="left")), self.cum.size - 1)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile interpolated inside its bucket, as ``Window.quantile`` does."""
        i = self.index(q)
        if i is None:
            return None
        seen = int(self.cum[i - 1]) if i else 0
        lower = float(self.bounds[i - 1]) if i else 0.0
        bound = float(self.bounds[i])
        upper = bound if math.isfinite(bound) else lower * 2 or 1.0
        count = int(self.counts[i])
        return lower + (upper - lower) * ((q * self.total - seen) / count) if count else lower

    def above(self, i: int) -> int:
        """Requests in the buckets after position ``i``."""
        return self.total - int(self.cum[i])


def rank_test(canary: Histogram, baseline: Histogram) -> RankTest | None:
    """Mann-Whitney U of two histograms over the same buckets.

    Every request in a bucket ties with every other request in it: a canary request
    counts one for each baseline request in a lower bucket and one half for each in its
    own. The variance carries the usual tie correction. None if either side is empty.
    """
    n_c, n_b = canary.total, baseline.total
    if n_c <= 0 or n_b <= 0:
        return None
    b = baseline.counts
    u = float(canary.counts.dot(baseline.cum - 0.5 * b))
    t = (canary.counts + b).astype(np.float64)
    ties = float(t.dot(t * t) - t.sum())
    n = n_c + n_b
    variance = n_c * n_b / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    return RankTest(u=u, n_canary=n_c, n_baseline=n_b, variance=max(variance, 0.0))


def mann_whitney(canary: Mapping[float, int], baseline: Mapping[float, int]) -> RankTest | None:
    """Mann-Whitney U of ``canary`` over ``baseline`` ``{upper_bound: count}`` histograms.

    Equals scipy's ``mannwhitneyu`` on the expanded samples (``U`` of the first sample,
    ``method="asymptotic"``).
    """
    bounds = sorted(canary.keys() | baseline.keys())
    edges = np.array(bounds, dtype=np.float64)
    c = np.array([canary.get(b, 0) for b in bounds], dtype=np.int64)
    b = np.array([baseline.get(x, 0) for x in bounds], dtype=np.int64)
    return rank_test(Histogram(c, edges), Histogram(b, edges))


def half_normal_mixture_log_lr(estimate: float, variance: float, tau: float) -> float:
    """Log of Robbins' mixture likelihood ratio for a positive drift, prior N+(0, tau^2).

    ``estimate`` is asymptotically N(theta, variance); the ratio of that density mixed over
    theta >= 0 (half-normal, scale ``tau``) to the density at theta = 0. Evaluated on an
    estimate that accumulates data, it is a test martingale for theta <= 0.
    """
    if variance <= 0:
        return 0.0
    total = variance + tau * tau
    quad = estimate * estimate * tau * tau / (2.0 * variance * total)
    tail = 0.5 * math.erfc(-estimate * tau / math.sqrt(variance * total) / SQRT2)
    if tail <= 0.0:
        return -math.inf
    return math.log(2.0) + 0.5 * math.log(variance / total) + quad + math.log(tail)


DEFAULT_RATIOS: tuple[float, ...] = (
    1.5, 2.0, 2.7, 3.6, 4.9, 6.6, 8.9, 12.0, 16.0, 22.0, 30.0, 40.0
)
"""Rate ratios (over ``rho0``) the count test mixes over, with equal weight: log-spaced
from "half as bad again" to "forty times as bad", so no regression is far from one."""


class RateRatioTest:
    """Anytime-valid test of "canary event rate <= rho0 x baseline event rate".

    Feed it, interval by interval, how many requests each version served and how many of
    them were events (5xx, slow requests). :attr:`log_evidence` is the log of the mixture
    likelihood ratio; reject at ``log(1/alpha)``.
    """

    def __init__(self, rho0: float = 1.0, ratios: Iterable[float] = DEFAULT_RATIOS) -> None:
        self.rho0 = rho0
        self.rhos = [rho0 * r for r in ratios]
        self.log_prior = -math.log(len(self.rhos))
        self.log_lr = [0.0] * len(self.rhos)
        self.log_evidence = 0.0
        self.max_log_evidence = 0.0

    def update(self, canary_n: int, canary_events: int, base_n: int, base_events: int) -> None:
        """Add one interval's counts (intervals without events carry no evidence)."""
        if canary_events + base_events <= 0 or canary_n <= 0 or base_n <= 0:
            return
        pi = canary_n / (canary_n + base_n)
        odds0 = pi * self.rho0
        log_p0 = math.log(odds0 / (odds0 + 1.0 - pi))
        log_q0 = math.log((1.0 - pi) / (odds0 + 1.0 - pi))
        for k, rho in enumerate(self.rhos):
            odds = pi * rho
            denom = odds + 1.0 - pi
            self.log_lr[k] += canary_events * (math.log(odds / denom) - log_p0) + base_events * (
                math.log((1.0 - pi) / denom) - log_q0
            )
        top = max(self.log_lr)
        self.log_evidence = (
            top + math.log(sum(math.exp(v - top) for v in self.log_lr)) + self.log_prior
        )
        self.max_log_evidence = max(self.max_log_evidence, self.log_evidence)

    @property
    def p_value(self) -> float:
        """The always-valid p-value: 1 / the largest evidence seen so far."""
        return min(1.0, math.exp(-self.max_log_evidence))
