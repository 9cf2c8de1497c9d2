"""The analysis models as users write them in rollgate.yaml."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rollgate.analysis.defaults import DEFAULT_ANALYSIS
from rollgate.spec.analysis import Analysis, PresetRule, ThresholdRule


def test_full_example_parses() -> None:
    analysis = Analysis.model_validate({
        "interval": "1s",
        "rules": [
            {"metric": "error_rate", "op": ">", "threshold": 0.10, "for": "5m", "window": "1m",
             "min_samples": 20, "consecutive": 3, "cumulative": 10},
            {"preset": "p95-2000ms-5m"},
        ],
        "judge": {
            "metrics": [
                {"metric": "error_rate", "weight": 2, "critical": True},
                {"metric": "latency", "weight": 1, "effect_floor": 0.1},
            ],
            "alpha": 0.01, "pass_score": 80, "marginal_score": 60,
        },
        "inconclusive": {"limit": 30, "action": "wait"},
    })
    rule = analysis.rules[0]
    assert isinstance(rule, ThresholdRule)
    assert (rule.for_, rule.window, rule.consecutive, rule.cumulative) == (300.0, 60.0, 3, 10)
    assert isinstance(analysis.rules[1], PresetRule)
    assert analysis.judge is not None and analysis.judge.metrics[0].critical
    dumped = analysis.model_dump(mode="json", by_alias=True)
    assert dumped["rules"][0]["for"] == "5m"


def test_judge_defaults() -> None:
    analysis = Analysis.model_validate({"judge": {}})
    assert analysis.judge is not None
    assert [m.metric for m in analysis.judge.metrics] == ["error_rate", "latency", "p99"]
    assert analysis == DEFAULT_ANALYSIS  # "judge: {}" is what bench/canary measures
    assert analysis.interval == 1.0 and analysis.inconclusive.action == "wait"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "needs rules, a judge, or both"),
        ({"judge": {"pass_score": 50, "marginal_score": 60}}, "marginal_score"),
        ({"judge": {"metrics": [{"metric": "latency"}, {"metric": "latency"}]}}, "latency"),
        ({"rules": [{"preset": "nope"}]}, "health-3-consecutive"),
        ({"rules": [{"metric": "error_rate", "op": "!=", "threshold": 1}]}, "op"),
        ({"rules": [{"metric": "error_rate", "op": ">", "threshold": 1, "for": "soon"}]},
         "duration"),
        ({"rules": ["error_rate > 1"]}, "threshold rule"),
        ({"judge": {}, "colour": "red"}, "colour"),
    ],
)
def test_invalid_analyses_say_why(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Analysis.model_validate(data)
