"""Threshold rules: conditions, ``for``, consecutive and cumulative limits, no data."""

from __future__ import annotations

from rollgate.analysis.rules import PRESETS, RuleState, expand
from rollgate.metrics.base import Window
from rollgate.spec.analysis import PresetRule, ThresholdRule


def window(requests: int = 100, errors: int = 0, seconds: float = 60.0,
           latency: dict[float, int] | None = None, health: float | None = None) -> Window:
    extra: dict[str, float | None] = {} if health is None else {"health": health}
    return Window("canary", seconds, requests, errors,
                  {100.0: requests} if latency is None else latency, extra)


def rule(**fields: object) -> ThresholdRule:
    base: dict[str, object] = {"metric": "error_rate", "op": ">", "threshold": 0.01}
    return ThresholdRule.model_validate(base | fields)


def verdicts(state: RuleState, windows: list[Window]) -> list[str]:
    return [state.evaluate(float(t), w).verdict for t, w in enumerate(windows)]


def test_threshold_fails_at_once_and_says_why() -> None:
    state = RuleState(rule())
    assert state.evaluate(0.0, window(errors=0)).verdict == "pass"
    record = state.evaluate(1.0, window(requests=118, errors=6))
    assert record.verdict == "fail"
    assert record.summary == "error_rate 0.051 > 0.010 for 0s (n=118)"
    assert (record.observed, record.threshold, record.samples) == (6 / 118, 0.01, 118)
    assert record.kind == "threshold"


def test_for_duration_must_hold_and_restarts_when_the_condition_stops() -> None:
    state = RuleState(rule(**{"for": "10s"}))
    bad, good = window(errors=5), window(errors=0)
    results = [state.evaluate(float(t), bad).verdict for t in range(0, 10)]
    assert results == ["pass"] * 10
    assert "for 9s of 10s" in state.evaluate(9.0, bad).summary
    assert state.evaluate(10.0, bad).verdict == "fail"

    state = RuleState(rule(**{"for": "10s"}))
    for t in range(0, 8):
        state.evaluate(float(t), bad)
    state.evaluate(8.0, good)
    assert state.evaluate(9.0, bad).verdict == "pass"
    assert state.evaluate(18.0, bad).verdict == "pass"
    assert state.evaluate(19.0, bad).verdict == "fail"


def test_consecutive_limit_resets_on_a_pass() -> None:
    state = RuleState(rule(consecutive=3))
    bad, good = window(errors=5), window(errors=0)
    assert verdicts(state, [bad, bad, good, bad, bad]) == ["pass"] * 5
    record = state.evaluate(5.0, bad)
    assert record.verdict == "fail"
    assert "3 consecutive failing evaluations" in record.summary


def test_cumulative_limit_counts_every_failing_evaluation() -> None:
    state = RuleState(rule(consecutive=5, cumulative=3))
    bad, good = window(errors=5), window(errors=0)
    assert verdicts(state, [bad, good]) == ["pass"] * 2
    assert "1/5 consecutive, 2/3 in total" in state.evaluate(2.0, bad).summary
    assert state.evaluate(3.0, good).summary == "error_rate 0.000, not > 0.010 (n=100)"
    record = state.evaluate(5.0, bad)
    assert record.verdict == "fail" and "3 failing evaluations in total" in record.summary


def test_a_failed_rule_stays_failed() -> None:
    state = RuleState(rule())
    assert state.evaluate(0.0, window(errors=5)).verdict == "fail"
    assert state.evaluate(1.0, window(errors=0)).verdict == "fail"


def test_too_few_samples_and_no_data_are_inconclusive() -> None:
    state = RuleState(rule(consecutive=2, **{"for": "2s"}))
    record = state.evaluate(0.0, window(requests=5, errors=5))
    assert record.verdict == "inconclusive"
    assert "5 requests in the last 1m, fewer than min_samples 20" in record.summary
    assert state.evaluate(1.0, window(requests=0, errors=0)).verdict == "inconclusive"
    assert state.consecutive == 0 and state.since is None


def test_inconclusive_does_not_reset_the_consecutive_run() -> None:
    state = RuleState(rule(consecutive=2))
    assert state.evaluate(0.0, window(errors=5)).verdict == "pass"
    assert state.evaluate(1.0, window(requests=3)).verdict == "inconclusive"
    assert state.evaluate(2.0, window(errors=5)).verdict == "fail"


def test_latency_and_request_rate_rules() -> None:
    slow = window(latency={100.0: 50, 3000.0: 50})
    assert RuleState(rule(metric="p95", threshold=2000)).evaluate(0.0, slow).verdict == "fail"
    assert RuleState(rule(metric="p50", threshold=2000)).evaluate(0.0, slow).verdict == "pass"
    dead = RuleState(rule(metric="request_rate", op="<", threshold=1))
    record = dead.evaluate(0.0, window(requests=0, seconds=60))
    assert record.verdict == "fail" and record.summary.startswith("request_rate 0.0/s < 1.0/s")


def test_presets_expand_to_the_seed_triggers() -> None:
    assert expand(PresetRule(preset="error-rate-10pct-5m")) == PRESETS["error-rate-10pct-5m"]
    errors = PRESETS["error-rate-10pct-5m"]
    assert (errors.metric, errors.op, errors.threshold, errors.for_) == ("error_rate", ">", 0.1,
                                                                        300.0)
    p95 = PRESETS["p95-2000ms-5m"]
    assert (p95.metric, p95.threshold, p95.for_) == ("p95", 2000.0, 300.0)

    health = RuleState(PRESETS["health-3-consecutive"])
    results = [health.evaluate(float(t), window(health=h)).verdict
               for t, h in enumerate([0.0, 0.0, 1.0, 0.0, 0.0])]
    assert results == ["pass"] * 5
    record = health.evaluate(5.0, window(health=0.0))
    assert record.verdict == "fail" and record.kind == "health"
    assert record.name == "health-3-consecutive"
    assert RuleState(PRESETS["health-3-consecutive"]).evaluate(
        0.0, window()).verdict == "inconclusive"
