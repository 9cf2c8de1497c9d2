"""The judge's statistics against known distributions and against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from rollgate.analysis.stats import (
    Histogram,
    RateRatioTest,
    half_normal_mixture_log_lr,
    mann_whitney,
    rank_test,
)
from rollgate.metrics.base import Window


def expand(hist: dict[float, int]) -> list[float]:
    return [bound for bound, count in hist.items() for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_mann_whitney_on_histograms_matches_scipy_on_expanded_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bounds = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, math.inf]
    canary = {b: int(n) for b, n in zip(bounds, rng.integers(0, 40, len(bounds)), strict=True)}
    baseline = {b: int(n) for b, n in zip(bounds, rng.integers(0, 90, len(bounds)), strict=True)}
    ours = mann_whitney(canary, baseline)
    assert ours is not None
    x = [1e9 if math.isinf(v) else v for v in expand(canary)]
    y = [1e9 if math.isinf(v) else v for v in expand(baseline)]
    theirs = scipy_stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic",
                                      use_continuity=False)
    assert ours.u == pytest.approx(theirs.statistic)
    assert 0.5 * math.erfc(ours.z / math.sqrt(2)) == pytest.approx(theirs.pvalue, rel=1e-9)


def test_mann_whitney_handles_empty_and_all_ties() -> None:
    assert mann_whitney({}, {10.0: 3}) is None
    test = mann_whitney({10.0: 4}, {10.0: 6})
    assert test is not None and test.auc == 0.5 and test.z == 0.0


def test_histogram_quantile_agrees_with_window_quantile() -> None:
    hist = {10.0: 3, 20.0: 0, 50.0: 40, 100.0: 50, 400.0: 6, math.inf: 1}
    bounds = np.array(sorted(hist))
    counts = np.array([hist[b] for b in sorted(hist)])
    window = Window("v", 1.0, 100, 0, hist)
    for q in (0.01, 0.5, 0.9, 0.95, 0.99, 0.999):
        assert Histogram(counts, bounds).quantile(q) == pytest.approx(window.quantile(q))


def _two_binomials(rng: np.random.Generator, seconds: int, rate_c: float, rate_b: float
                   ) -> tuple[np.ndarray, ...]:
    n = rng.poisson(100, seconds)
    n_c = rng.binomial(n, 0.1)
    n_b = n - n_c
    return n_c, rng.binomial(n_c, rate_c), n_b, rng.binomial(n_b, rate_b)


def test_rate_ratio_test_stays_under_alpha_when_looked_at_every_second() -> None:
    """Identical error rates, 600 looks each: rejections stay well under alpha."""
    rng = np.random.default_rng(7)
    alpha, runs, rejected = 0.05, 400, 0
    for _ in range(runs):
        test = RateRatioTest()
        for n_c, e_c, n_b, e_b in zip(*_two_binomials(rng, 600, 0.02, 0.02), strict=True):
            test.update(int(n_c), int(e_c), int(n_b), int(e_b))
            if test.log_evidence >= math.log(1 / alpha):
                rejected += 1
                break
    assert rejected / runs <= alpha


def test_rate_ratio_test_catches_5_percent_against_0_2_percent_in_seconds() -> None:
    rng = np.random.default_rng(11)
    times = []
    for _ in range(50):
        test = RateRatioTest()
        for t, counts in enumerate(zip(*_two_binomials(rng, 120, 0.05, 0.002), strict=True), 1):
            test.update(*(int(c) for c in counts))
            if test.log_evidence >= math.log(1 / 0.005):
                times.append(t)
                break
    assert len(times) == 50
    assert float(np.median(times)) <= 10
    assert test.p_value < 0.005


def test_rate_ratio_test_with_a_null_ratio_tolerates_small_increases() -> None:
    rng = np.random.default_rng(3)
    test = RateRatioTest(rho0=1.5)
    for counts in zip(*_two_binomials(rng, 1200, 0.012, 0.01), strict=True):
        test.update(*(int(c) for c in counts))
    assert test.p_value > 0.05


def test_sequential_rank_test_stays_under_alpha_when_looked_at_every_second() -> None:
    """Same latency distribution, 300 looks each: the mixture boundary holds alpha."""
    rng = np.random.default_rng(5)
    bounds = np.array([*np.geomspace(1, 60_000, 150), math.inf])
    alpha, runs, rejected = 0.05, 200, 0
    for _ in range(runs):
        c_tot = np.zeros(bounds.size, dtype=np.int64)
        b_tot = np.zeros(bounds.size, dtype=np.int64)
        for _ in range(300):
            c_tot += np.bincount(np.searchsorted(bounds, rng.lognormal(4.6, 0.5, 10)),
                                 minlength=bounds.size)
            b_tot += np.bincount(np.searchsorted(bounds, rng.lognormal(4.6, 0.5, 90)),
                                 minlength=bounds.size)
            test = rank_test(Histogram(c_tot, bounds), Histogram(b_tot, bounds))
            assert test is not None
            if half_normal_mixture_log_lr(test.auc - 0.5, test.auc_variance, 0.08) >= math.log(
                    1 / alpha):
                rejected += 1
                break
    assert rejected / runs <= alpha


def test_half_normal_mixture_grows_only_for_a_positive_shift() -> None:
    assert half_normal_mixture_log_lr(0.0, 1e-4, 0.08) < 0
    assert half_normal_mixture_log_lr(-0.05, 1e-4, 0.08) < half_normal_mixture_log_lr(
        0.0, 1e-4, 0.08)
    assert half_normal_mixture_log_lr(0.05, 1e-4, 0.08) > math.log(100)
