"""The analyzer: windows since the start, verdicts, the inconclusive policy, plans."""

from __future__ import annotations

import json

import pytest

from rollgate.analysis import DEFAULT_ANALYSIS, Analyzer, expected_time_to_detect
from rollgate.metrics.base import Window
from rollgate.spec.analysis import Analysis


class Source:
    """Per-second counts, served as windows over the last N seconds like a metric source."""

    def __init__(self) -> None:
        self.seconds: list[tuple[int, int, dict[float, int]]] = []

    def tick(self, requests: int, errors: int = 0) -> None:
        self.seconds.append((requests, errors, {100.0: requests} if requests else {}))

    def window(self, seconds: float) -> Window:
        recent = self.seconds[len(self.seconds) - round(seconds):] if seconds else []
        hist: dict[float, int] = {}
        for _, _, h in recent:
            for bound, count in h.items():
                hist[bound] = hist.get(bound, 0) + count
        return Window("canary", seconds, sum(r[0] for r in recent), sum(r[1] for r in recent),
                      hist)


def rules(inconclusive: dict[str, object] | None = None, **rule: object) -> Analysis:
    base: dict[str, object] = {"metric": "error_rate", "op": ">", "threshold": 0.1,
                               "window": "10s", "min_samples": 20}
    return Analysis.model_validate({"rules": [base | rule],
                                    "inconclusive": inconclusive or {"limit": 3}})


def drive(analyzer: Analyzer, source: Source, ticks: list[tuple[int, int]]) -> list[str]:
    out: list[str] = []
    for requests, errors in ticks:
        source.tick(requests, errors)
        now = float(len(source.seconds))
        out.append(analyzer.evaluate(now, source.window(analyzer.lookback(now))).verdict)
    return out


def test_rule_windows_slide_over_windows_since_the_start() -> None:
    analyzer, source = Analyzer(rules()), Source()
    assert analyzer.lookback(0.0) == 0.0
    assert drive(analyzer, source, [(10, 0)] * 5) == ["running", "pass", "pass", "pass", "pass"]
    assert drive(analyzer, source, [(10, 0)] * 5) == ["pass"] * 5
    assert analyzer.lookback(10.0) == 10.0
    analyzer, source = Analyzer(rules()), Source()
    assert drive(analyzer, source, [(10, 5)])[-1] == "running"
    verdict = drive(analyzer, source, [(10, 5)])
    assert verdict == ["fail"]
    assert analyzer.failed is not None
    assert analyzer.failed.reason == "error_rate 0.500 > 0.100 for 0s (n=20)"


def test_old_errors_leave_the_rule_window() -> None:
    analyzer, source = Analyzer(rules(threshold=0.3)), Source()
    drive(analyzer, source, [(10, 2)] * 3 + [(10, 0)] * 12)
    record = analyzer.evaluate(15.0, source.window(analyzer.lookback(15.0))).records[0]
    assert record.samples == 100 and record.observed == 0.0


def test_the_anchor_moves_without_losing_data() -> None:
    analyzer, source = Analyzer(rules(threshold=0.3), max_lookback=4.0), Source()
    drive(analyzer, source, [(10, 1)] * 9)
    assert analyzer.lookback(9.0) < 4.0
    assert (analyzer.canary.requests, analyzer.canary.errors) == (90, 9)


@pytest.mark.parametrize(("action", "expected"), [("wait", "inconclusive"),
                                                   ("pause", "inconclusive"), ("fail", "fail")])
def test_inconclusive_limit_and_action(action: str, expected: str) -> None:
    analyzer, source = Analyzer(rules({"limit": 3, "action": action})), Source()
    verdicts = drive(analyzer, source, [(1, 0)] * 3)
    assert verdicts == ["running", "running", expected]
    last = analyzer.evaluate(4.0, source.window(analyzer.lookback(4.0)))
    assert last.reason is not None
    assert last.reason.startswith("inconclusive for ")
    assert "fewer than min_samples 20" in last.reason


def test_inconclusive_run_resets_when_data_comes_back() -> None:
    analyzer, source = Analyzer(rules({"limit": 3})), Source()
    assert drive(analyzer, source, [(1, 0)] * 2 + [(30, 0)] + [(1, 0)] * 2) == [
        "running", "running", "pass", "pass", "pass"]


def test_judge_without_a_baseline_is_inconclusive() -> None:
    analyzer = Analyzer(Analysis.model_validate({"judge": {}}))
    verdict = analyzer.evaluate(1.0, Window("canary", 1.0, 50, 0, {100.0: 50}))
    assert verdict.verdict == "running"
    assert {r.verdict for r in verdict.records} == {"inconclusive"}
    assert verdict.records[0].summary == "error_rate: no stable window to compare with"


def test_a_failure_is_final_and_the_verdict_is_json() -> None:
    analyzer, source = Analyzer(rules()), Source()
    drive(analyzer, source, [(30, 30)])
    again = analyzer.evaluate(2.0, Window("canary", 2.0, 60, 0, {100.0: 60}))
    assert again.verdict == "fail" and again.at == 2.0
    data = json.loads(json.dumps(again.to_dict()))
    assert data["reason"] == again.reason
    assert data["records"][0]["verdict"] == "fail"


def test_expected_time_to_detect_from_simulation() -> None:
    seconds = expected_time_to_detect(DEFAULT_ANALYSIS, 100.0, 0.10, 0.002,
                                      {"error_rate": 0.05}, trials=5)
    assert seconds is not None and 2 <= seconds <= 30
    assert expected_time_to_detect(DEFAULT_ANALYSIS, 100.0, 0.10, 0.002, {}, trials=3,
                                   horizon=60) is None
    with pytest.raises(ValueError, match="unknown regression"):
        expected_time_to_detect(DEFAULT_ANALYSIS, 100.0, 0.1, 0.0, {"colour": 1.0})


def steady(version: str, rate: int, seconds: float) -> Window:
    requests = round(rate * seconds)
    return Window(version, seconds, requests, 0, {100.0: requests})


def test_a_missing_baseline_window_loses_no_stable_data() -> None:
    analyzer = Analyzer(Analysis.model_validate({"judge": {}}), max_lookback=3.0)
    for t in range(1, 8):
        seconds = analyzer.lookback(float(t))
        stable = None if t in (2, 5) else steady("stable", 90, seconds)
        analyzer.evaluate(float(t), steady("canary", 10, seconds), stable)
    assert (analyzer.canary.requests, analyzer.baseline.requests) == (70, 630)
