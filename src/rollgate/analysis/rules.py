"""Threshold rules on the canary alone, with ``for`` durations and failure limits.

Each evaluation of a rule is one of:

- inconclusive: no data, or fewer than ``min_samples`` canary requests in the window.
  It neither counts as a failure nor as a pass, and restarts the ``for`` clock, as a
  Prometheus alert does when its series disappears;
- failing: the condition holds and has held for at least ``for``;
- passing: otherwise (including "holds, but not for long enough yet").

The rule fails when ``consecutive`` failing evaluations come in a row (a passing one
resets the run; an inconclusive one does not) or, if ``cumulative`` is set, when that many
failing evaluations happened in total. Argo Rollouts only has the cumulative limit and
Flagger only counts failed checks; both are available here together.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from rollgate.analysis.records import CheckRecord, CheckVerdict, Kind, fmt_value
from rollgate.metrics.base import Window
from rollgate.spec.analysis import PresetRule, ThresholdRule
from rollgate.spec.durations import format_duration

PRESETS: dict[str, ThresholdRule] = {
    "health-3-consecutive": ThresholdRule(
        name="health-3-consecutive", metric="health", op="<", threshold=1.0, consecutive=3,
        min_samples=0,
    ),
    "error-rate-10pct-5m": ThresholdRule(
        name="error-rate-10pct-5m", metric="error_rate", op=">", threshold=0.10, for_=300.0,
        window=60.0,
    ),
    "p95-2000ms-5m": ThresholdRule(
        name="p95-2000ms-5m", metric="p95", op=">", threshold=2000.0, for_=300.0, window=60.0,
    ),
}
"""The seed runbooks' rollback triggers (seed 003) as threshold rules."""

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


def expand(rule: ThresholdRule | PresetRule) -> ThresholdRule:
    """Return the threshold rule a preset stands for, or the rule itself."""
    return PRESETS[rule.preset] if isinstance(rule, PresetRule) else rule


def metric_value(metric: str, window: Window) -> float | None:
    """Read a rule metric from a window; None when the window holds no data for it."""
    if metric == "error_rate":
        return window.error_rate
    if metric == "request_rate":
        return window.request_rate
    if metric == "health":
        return window.extra.get("health")
    return window.quantile(_QUANTILES[metric])


class RuleState:
    """One threshold rule and what it has seen so far."""

    def __init__(self, rule: ThresholdRule) -> None:
        self.rule = rule
        self.kind: Kind = "health" if rule.metric == "health" else "threshold"
        self.since: float | None = None
        self.consecutive = 0
        self.failures = 0
        self.failed = False

    def evaluate(self, now: float, canary: Window) -> CheckRecord:
        """Judge the canary's window at time ``now`` (seconds) and update the counters."""
        rule = self.rule
        value = metric_value(rule.metric, canary)
        short = self._too_few(canary)
        if value is None or short:
            self.since = None
            return self._record("inconclusive", value, canary, short or self._no_data())
        holds = _OPS[rule.op](value, rule.threshold)
        if not holds:
            self.since = None
            self.consecutive = 0
            verdict: CheckVerdict = "fail" if self.failed else "pass"
            text = f"{self._observed(value)}, not {rule.op} {self._threshold()}{self._n(canary)}"
            return self._record(verdict, value, canary, text)
        if self.since is None:
            self.since = now
        held = now - self.since
        condition = f"{self._observed(value)} {rule.op} {self._threshold()}"
        if held < rule.for_:
            verdict = "fail" if self.failed else "pass"
            wait = f"for {_secs(held)} of {_secs(rule.for_)}"
            return self._record(verdict, value, canary, f"{condition} {wait}{self._n(canary)}")
        self.consecutive += 1
        self.failures += 1
        limit = self._limit_reached()
        if limit is not None:
            self.failed = True
        counts = self._counts() if limit is None else limit
        text = f"{condition} for {_secs(held)}{counts}{self._n(canary)}"
        return self._record("fail" if self.failed else "pass", value, canary, text)

    def _too_few(self, canary: Window) -> str | None:
        rule = self.rule
        if rule.metric in ("request_rate", "health") or canary.requests >= rule.min_samples:
            return None
        return (
            f"{rule.metric}: {canary.requests} requests in the last {_secs(canary.seconds)}, "
            f"fewer than min_samples {rule.min_samples}"
        )

    def _no_data(self) -> str:
        if self.rule.metric == "health":
            return "health: no probe result yet"
        return f"{self.rule.metric}: no data"

    def _limit_reached(self) -> str | None:
        """How the failing evaluations just reached a limit; None if they did not."""
        rule = self.rule
        if self.consecutive >= rule.consecutive:
            if rule.consecutive == 1:
                return ""
            return f", {self.consecutive} consecutive failing evaluations"
        if rule.cumulative is not None and self.failures >= rule.cumulative:
            return f", {self.failures} failing evaluations in total"
        return None

    def _counts(self) -> str:
        rule = self.rule
        text = f", {self.consecutive}/{rule.consecutive} consecutive"
        if rule.cumulative is not None:
            text += f", {self.failures}/{rule.cumulative} in total"
        return text

    def _observed(self, value: float) -> str:
        return f"{self.rule.metric} {fmt_value(self.rule.metric, value)}"

    def _threshold(self) -> str:
        return fmt_value(self.rule.metric, self.rule.threshold)

    def _n(self, canary: Window) -> str:
        return "" if self.rule.metric == "health" else f" (n={canary.requests})"

    def _record(
        self, verdict: CheckVerdict, value: float | None, canary: Window, summary: str
    ) -> CheckRecord:
        return CheckRecord(
            name=self.rule.label(),
            kind=self.kind,
            metric=self.rule.metric,
            verdict=verdict,
            summary=summary,
            observed=value,
            threshold=self.rule.threshold,
            samples=canary.requests,
        )


def _secs(seconds: float) -> str:
    return format_duration(float(round(seconds)))

