"""One analysis as it runs: rules and judge together, one verdict per evaluation.

How the engine drives it, every ``config.interval``::

    analyzer = Analyzer(config, started=now)
    ...
    seconds = analyzer.lookback(now)
    verdict = analyzer.evaluate(
        now, source.window(canary, seconds), source.window(stable, seconds)
    )

The windows cover the time since the analysis started (more precisely since an anchor
that moves forward every ``max_lookback`` seconds); the analyzer works out each rule's
sliding window and the judge's increments from them, so one query per version serves
every rule and the judge. Window ``extra["health"]`` (1 passing, 0 failing) feeds
``metric: health`` rules.

Verdicts: ``fail`` (roll back; ``reason`` quotes the failing check), ``inconclusive`` (no
conclusive evaluation for ``inconclusive.limit`` evaluations in a row and the action is
``wait`` or ``pause``: do not promote; pause for a person when the action is ``pause``),
``pass`` (every check judged and passing, score at or above ``pass_score``) and
``running`` (nothing wrong, but not enough data or a marginal score yet). A failure is
final: later evaluations repeat it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from rollgate.analysis.judge import Judge
from rollgate.analysis.ledger import Buckets, Ledger
from rollgate.analysis.records import CheckRecord
from rollgate.analysis.rules import RuleState, expand
from rollgate.metrics.base import Window
from rollgate.spec.analysis import Analysis

VerdictName = Literal["pass", "fail", "inconclusive", "running"]
MAX_LOOKBACK = 1800.0
"""Seconds after which the window anchor moves forward (sources keep at least an hour)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one evaluation of an analysis."""

    verdict: VerdictName
    at: float
    records: list[CheckRecord] = field(default_factory=list)
    score: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The verdict and its records as JSON-ready values."""
        return {
            "verdict": self.verdict,
            "at": self.at,
            "score": self.score,
            "reason": self.reason,
            "records": [r.to_dict() for r in self.records],
        }


class Analyzer:
    """Evaluates one analysis (rules, judge, inconclusive policy) as data comes in."""

    def __init__(
        self, config: Analysis, *, started: float = 0.0, max_lookback: float = MAX_LOOKBACK
    ) -> None:
        self.config = config
        self.rules = [RuleState(expand(rule)) for rule in config.rules]
        self.judge = Judge(config.judge) if config.judge is not None else None
        keep = max((state.rule.window for state in self.rules), default=0.0)
        keep = keep + config.interval if keep else 0.0
        self.buckets = Buckets()
        self.canary = Ledger(self.buckets, started, keep)
        self.baseline = Ledger(self.buckets, started, 0.0)
        self.anchor = started
        self.max_lookback = max_lookback
        self.inconclusive_run = 0
        self.failed: Verdict | None = None

    def lookback(self, now: float) -> float:
        """Seconds of data the next windows must cover (since the anchor)."""
        return max(now - self.anchor, 0.0)

    def evaluate(self, now: float, canary: Window, baseline: Window | None = None) -> Verdict:
        """Judge the windows since :meth:`lookback` at time ``now`` (seconds)."""
        if self.failed is not None:
            return Verdict("fail", now, self.failed.records, self.failed.score,
                           self.failed.reason)
        canary_inc = self.canary.add(now, canary)
        records = [state.evaluate(now, self._rule_window(now, state)) for state in self.rules]
        failure = next((r.summary for r in records if r.verdict == "fail"), None)
        score: float | None = None
        judged = True
        if self.judge is not None:
            if baseline is None:
                judged = False
                records += [_no_baseline(m.spec.metric, canary) for m in self.judge.metrics]
            else:
                baseline_inc = self.baseline.add(now, baseline)
                judgment = self.judge.evaluate(
                    self.canary.total(now), self.baseline.total(now), canary_inc, baseline_inc,
                    self.buckets,
                )
                records += judgment.records
                score = judgment.score
                judged = judgment.passed
                failure = failure or judgment.failure
        if now - self.anchor >= self.max_lookback:
            self.anchor = now
            self.canary.rebase()
            self.baseline.rebase()
        if failure is not None:
            self.failed = Verdict("fail", now, records, score, failure)
            return self.failed
        return self._undecided(now, records, score, judged)

    def _rule_window(self, now: float, state: RuleState) -> Window:
        ledger = self.canary
        data = ledger.total(now) if state.rule.metric == "health" else ledger.sliding(
            now, state.rule.window)
        return data.window(ledger.version, self.buckets, ledger.extra)

    def _undecided(
        self, now: float, records: list[CheckRecord], score: float | None, judged: bool
    ) -> Verdict:
        """No failure: pass, running, or the inconclusive policy's action."""
        unsure = next((r for r in records if r.verdict == "inconclusive"), None)
        self.inconclusive_run = self.inconclusive_run + 1 if unsure else 0
        policy = self.config.inconclusive
        if unsure is not None and self.inconclusive_run >= policy.limit:
            reason = f"inconclusive for {self.inconclusive_run} evaluations: {unsure.summary}"
            if policy.action == "fail":
                self.failed = Verdict("fail", now, records, score, reason)
                return self.failed
            return Verdict("inconclusive", now, records, score, reason)
        verdict: VerdictName = "pass" if unsure is None and judged else "running"
        return Verdict(verdict, now, records, score, None)


def _no_baseline(metric: str, canary: Window) -> CheckRecord:
    return CheckRecord(
        name=metric, kind="judge", metric=metric, verdict="inconclusive",
        samples=canary.requests, summary=f"{metric}: no stable window to compare with",
    )


def expected_time_to_detect(
    config: Analysis,
    traffic_rps: float,
    canary_weight: float,
    baseline_error_rate: float,
    regression: dict[str, float],
    *,
    trials: int = 9,
    horizon: float = 3600.0,
    seed: int = 0,
) -> float | None:
    """Median seconds this analysis takes to fail a canary with ``regression``; None if
    most simulated canaries are not caught within ``horizon``.

    ``regression`` names the fault as :class:`rollgate.analysis.simulate.Fault` fields,
    e.g. ``{"error_rate": 0.05}`` (canary serves 5% 5xx) or ``{"median_factor": 1.2,
    "p95_factor": 1.5}``. Traffic is simulated (seeded, in simulated time) with stable
    serving ``baseline_error_rate`` 5xx.
    """
    # The simulator is built on the analyzer, so it is imported when a plan needs it.
    from rollgate.analysis.simulate import Fault, Traffic, detect, simulate

    try:
        fault = Fault(**regression)
    except TypeError as exc:
        raise ValueError(f"unknown regression field: {exc}") from None
    traffic = Traffic(
        rps=traffic_rps, canary_weight=canary_weight, error_rate=baseline_error_rate
    )
    times: list[float] = []
    misses = 0
    for trial in range(trials):
        trace = simulate(traffic, fault, seconds=int(horizon), seed=seed * 1_000_003 + trial)
        outcome = detect(config, trace)
        if outcome.at is None:
            misses += 1
            if misses > trials // 2:
                return None
        else:
            times.append(outcome.at)
    times += [math.inf] * misses
    median = statistics.median(times)
    return None if math.isinf(median) else median
