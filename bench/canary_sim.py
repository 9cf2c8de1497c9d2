"""Fault profiles and the anchors' published canary rules, run on simulated traces.

Used by ``bench/canary.py``. Every system sees the same trace (seeded, simulated time)
and says when, if ever, it would have rolled the canary back:

- rollgate: :data:`rollgate.analysis.DEFAULT_ANALYSIS`, evaluated every second on windows
  built from the per-second data, as the built-in metric source serves them.
- Flagger (docs: "Canary analysis"): every ``interval`` (1m) each metric is queried over
  the last minute; request-success-rate below 99% or request-duration p99 above 500 ms,
  or no data, is a failed check; the canary is rolled back when failed checks reach
  ``threshold`` (5). Failed checks are counted over the whole analysis.
- Argo Rollouts (AnalysisTemplate): one measurement per metric every ``interval`` (1m,
  ``initialDelay`` 1m), ``successCondition`` error rate <= 1% / p99 <= 500 ms; a NaN
  (no requests) fails the condition, so no data counts as a failure; the run fails when
  a metric's failed measurements exceed ``failureLimit`` (3), counted cumulatively.
- Kayenta (NetflixACAJudge, MannWhitneyClassifier): 1-minute samples of error rate, p50
  and p99 for canary and baseline; every 15 minutes over all samples so far (a 1 h
  lifetime judged at each interval, as Spinnaker canary stages run it) each metric is
  "High" when the 98% Hodges-Lehmann confidence interval of canary - baseline lies above
  0.25 x the estimate and the mean ratio is >= 1; the score is the share of passing
  metrics; a score under 75 fails at once and the final score must reach 95. With its
  default effect size (any significant increase counts), a good canary a couple of
  percent slower than stable is often "High" on p50 from the first judgment on, which is
  why Kayenta rolls back good canaries here; its users raise ``effectSize`` to avoid that.

The thresholds (1% errors, p99 500 ms) are those of Flagger's documentation, which leave
stable (0.2% errors, p99 320 ms) room to breathe.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from rollgate.analysis.defaults import DEFAULT_ANALYSIS
from rollgate.analysis.simulate import Fault, Trace, Traffic, detect, simulate
from rollgate.metrics.base import Window

HORIZON = 3600
"""A canary runs for an hour; a bad one not caught by then is a miss."""

STABLE = Traffic(error_rate=0.002)


@dataclass(frozen=True)
class Profile:
    """A kind of canary: good (noise only) or with a fault."""

    name: str
    fault: Fault
    traffic: Traffic = STABLE
    bad: bool = True


PROFILES: tuple[Profile, ...] = (
    Profile("good canary (noise)", Fault(error_jitter=0.1, latency_jitter=0.02), bad=False),
    Profile("5% errors", Fault(error_rate=0.05)),
    Profile("5% errors, stable 0.5%", Fault(error_rate=0.05), Traffic(error_rate=0.005)),
    Profile("0.5% -> 2% errors", Fault(error_rate=0.02), Traffic(error_rate=0.005)),
    Profile("p95 +50%", Fault(median_factor=1.2, p95_factor=1.5)),
    Profile("heavy tail", Fault(slow_share=0.02, slow_factor=10.0)),
    Profile("intermittent bursts",
            Fault(burst_error_rate=0.2, burst_seconds=10.0, burst_every=180.0)),
)

SYSTEMS = ("rollgate", "flagger", "argo", "kayenta")


@dataclass(frozen=True)
class Result:
    """When a system rolled the canary back (None: never) and the 5xx users got from it."""

    at: float | None
    canary_errors: int


def _minutes(trace: Trace, version: int, upto: int) -> list[Window]:
    return [trace.window(version, m * 60, m * 60 + 60) for m in range(upto // 60)]


def flagger(trace: Trace, minutes: list[Window]) -> Result:
    """Flagger: interval 1m, threshold 5, success rate >= 99%, p99 <= 500 ms."""
    failed = 0
    for m, window in enumerate(minutes, 1):
        p99 = window.quantile(0.99)
        rate = window.error_rate
        if rate is None or p99 is None or rate > 0.01 or p99 > 500.0:
            failed += 1
            if failed >= 5:
                return Result(m * 60.0, trace.canary_errors(m * 60))
    return Result(None, trace.canary_errors(trace.seconds))


def argo(trace: Trace, minutes: list[Window]) -> Result:
    """Argo Rollouts: interval 1m, failureLimit 3 (cumulative), NaN fails the condition."""
    failed = {"error-rate": 0, "p99": 0}
    for m, window in enumerate(minutes, 1):
        rate = window.error_rate
        p99 = window.quantile(0.99)
        failed["error-rate"] += rate is None or not rate <= 0.01
        failed["p99"] += p99 is None or not p99 <= 500.0
        if max(failed.values()) > 3:
            return Result(m * 60.0, trace.canary_errors(m * 60))
    return Result(None, trace.canary_errors(trace.seconds))


def _series(windows: list[Window]) -> dict[str, list[float]]:
    """Kayenta's 1-minute samples per metric (NaN for a minute without requests)."""
    out: dict[str, list[float]] = {"error_rate": [], "p50": [], "p99": []}
    for w in windows:
        out["error_rate"].append(w.errors / w.requests if w.requests else math.nan)
        out["p50"].append(w.quantile(0.5) or math.nan)
        out["p99"].append(w.quantile(0.99) or math.nan)
    return out


def _high(canary: list[float], baseline: list[float], confidence: float = 0.98) -> bool:
    """Kayenta's MannWhitneyClassifier, direction "increase", default tolerance/effect."""
    x = np.array([v for v in canary if not math.isnan(v)])
    y = np.array([v for v in baseline if not math.isnan(v)])
    if not x.size or not y.size or sorted(x.tolist()) == sorted(y.tolist()):
        return False
    diffs = np.sort((x[:, None] - y[None, :]).ravel())
    m, n = x.size, y.size
    z = statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    k = max(0, math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12)))
    lower = float(diffs[min(max(k - 1, 0), diffs.size - 1)])
    estimate = float(np.median(diffs))
    deviation = 1.0 if y.mean() == 0 else float(x.mean() / y.mean())
    return lower > 0.25 * abs(estimate) and deviation >= 1.0


def kayenta(trace: Trace, canary: list[Window], baseline: list[Window]) -> Result:
    """Kayenta: judgments every 15 minutes of a 1 h lifetime, marginal 75, pass 95."""
    c_all, b_all = _series(canary), _series(baseline)
    for end in range(15, HORIZON // 60 + 1, 15):
        passed = sum(not _high(c_all[name][:end], b_all[name][:end]) for name in c_all)
        score = 100.0 * passed / len(c_all)
        if score < 75.0 or (end * 60 >= HORIZON and score < 95.0):
            return Result(end * 60.0, trace.canary_errors(end * 60))
    return Result(None, trace.canary_errors(trace.seconds))


def run_trial(profile: Profile, seed: int) -> dict[str, Result]:
    """Simulate one canary of ``profile`` and let every system judge it."""
    trace = simulate(profile.traffic, profile.fault, seconds=HORIZON, seed=seed)
    outcome = detect(DEFAULT_ANALYSIS, trace)
    canary = _minutes(trace, 1, HORIZON)
    baseline = _minutes(trace, 0, HORIZON)
    return {
        "rollgate": Result(outcome.at, outcome.canary_errors),
        "flagger": flagger(trace, canary),
        "argo": argo(trace, canary),
        "kayenta": kayenta(trace, canary, baseline),
    }
