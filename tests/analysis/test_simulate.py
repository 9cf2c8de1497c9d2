"""The traffic simulator behind rollgate plan and bench/canary."""

from __future__ import annotations

import numpy as np

from rollgate.analysis import DEFAULT_ANALYSIS
from rollgate.analysis.simulate import Fault, Traffic, detect, simulate


def test_a_seed_gives_the_same_trace_and_the_same_verdict() -> None:
    fault = Fault(error_rate=0.05)
    one, two = simulate(Traffic(), fault, seconds=120, seed=4), simulate(
        Traffic(), fault, seconds=120, seed=4)
    for name in ("requests", "errors", "latency"):
        assert np.array_equal(getattr(one, name), getattr(two, name))
    assert detect(DEFAULT_ANALYSIS, one) == detect(DEFAULT_ANALYSIS, two)
    other = simulate(Traffic(), fault, seconds=120, seed=5)
    assert not np.array_equal(one.errors, other.errors)


def test_windows_add_up_and_follow_the_split() -> None:
    trace = simulate(Traffic(rps=200, canary_weight=0.25, error_rate=0.01), Fault(),
                     seconds=600, seed=1)
    canary, stable = trace.window(1, 0, 600), trace.window(0, 0, 600)
    assert sum(canary.latency.values()) == canary.requests
    share = canary.requests / (canary.requests + stable.requests)
    assert 0.23 < share < 0.27
    assert stable.error_rate is not None and 0.008 < stable.error_rate < 0.014
    median = stable.quantile(0.5)
    assert median is not None and 90 < median < 110
    half = trace.window(1, 0, 300)
    assert half.requests + trace.window(1, 300, 600).requests == canary.requests


def test_faults_change_the_canary_only() -> None:
    trace = simulate(Traffic(incidents_per_hour=0), Fault(median_factor=1.2, p95_factor=1.5),
                     seconds=900, seed=2)
    canary, stable = trace.window(1, 0, 900), trace.window(0, 0, 900)
    p95_c, p95_s = canary.quantile(0.95), stable.quantile(0.95)
    assert p95_c is not None and p95_s is not None and 1.35 < p95_c / p95_s < 1.65
    assert detect(DEFAULT_ANALYSIS, trace).at is not None
