"""Scoring and deciding: each decision, key objectives, warnings and relative criteria."""

from __future__ import annotations

from typing import Any

import pytest

from rollgate.gates.measure import Measurement
from rollgate.gates.quality import GateResult, History, decide, judge
from rollgate.spec.quality import QualityGate


def make_gate(objectives: dict[str, dict[str, Any]], **extra: Any) -> QualityGate:
    """A gate of value objectives (criteria and options as given)."""
    return QualityGate.model_validate({
        "pass": "90%", "warning": "75%", **extra,
        "objectives": {name: {"input": {"kind": "value"}, **o}
                       for name, o in objectives.items()}})


def score(gate: QualityGate, values: dict[str, float], history: History = ()) -> GateResult:
    """Judge ``values`` (no files, no store)."""
    measured = {name: Measurement(v, "given") for name, v in values.items()}
    return judge(gate, measured, history, name="release", service="web", version="1.4.0")


FOUR = make_gate({
    "tests": {"pass": ">=100", "warning": ">=95", "key": True},
    "coverage": {"pass": ">=80", "warning": ">=70"},
    "p95": {"pass": "<=500", "warning": "<=800", "unit": "ms"},
    "lint": {"pass": "==0"},
})


def row(result: GateResult, name: str) -> Any:
    return next(r for r in result.rows if r.name == name)


def test_everything_passing_deploys() -> None:
    result = score(FOUR, {"tests": 100, "coverage": 85, "p95": 320, "lint": 0})
    assert result.decision == "DEPLOY" and result.score == 100.0
    assert result.blocking == [] and {r.status for r in result.rows} == {"pass"}


def test_a_score_between_warning_and_pass_remediates() -> None:
    # p95 misses <=500 but meets the warning: 500/625 = 0.8 of its weight -> 95%... then
    # coverage at 56 of 80 earns 0.7: (1 + 0.7 + 0.8 + 1) / 4 = 87.5%.
    result = score(FOUR, {"tests": 100, "coverage": 56, "p95": 625, "lint": 0})
    assert [r.status for r in result.rows] == ["pass", "fail", "warning", "pass"]
    assert row(result, "p95").attainment == pytest.approx(0.8)
    assert row(result, "coverage").attainment == pytest.approx(0.7)
    assert result.score == 87.5 and result.decision == "REMEDIATE"
    assert result.blocking == []


def test_a_failed_key_objective_remediates_whatever_the_score() -> None:
    result = score(FOUR, {"tests": 94, "coverage": 99, "p95": 100, "lint": 0})
    assert row(result, "tests").status == "fail"
    assert result.score == 98.5 and result.blocking == ["tests"]
    assert result.decision == "REMEDIATE"
    assert "Blocking Failures: 1 (tests)" in result.table()


def test_a_key_objective_in_warning_does_not_block() -> None:
    result = score(FOUR, {"tests": 96, "coverage": 99, "p95": 100, "lint": 0})
    assert row(result, "tests").status == "warning" and result.blocking == []
    assert result.score == 99.0 and result.decision == "DEPLOY"


def test_a_score_below_warning_blocks_even_with_a_key_failure() -> None:
    result = score(FOUR, {"tests": 50, "coverage": 40, "p95": 2000, "lint": 3})
    # 0.5 + 0.5 + 0.25 + 0 (a missed == earns nothing) = 1.25 of 4
    assert result.score == 31.25
    assert result.decision == "BLOCK" and result.blocking == ["tests"]


def test_decision_boundaries() -> None:
    assert decide(90.0, False, 90.0, 75.0) == "DEPLOY"
    assert decide(89.99, False, 90.0, 75.0) == "REMEDIATE"
    assert decide(75.0, False, 90.0, 75.0) == "REMEDIATE"
    assert decide(74.99, True, 90.0, 75.0) == "BLOCK"
    assert decide(100.0, True, 90.0, 75.0) == "REMEDIATE"


def test_weights_share_the_score_and_zero_weight_only_reports() -> None:
    gate = make_gate({"a": {"pass": ">=100", "weight": 3}, "b": {"pass": ">=100"},
                      "info": {"pass": ">=100", "weight": 0}})
    result = score(gate, {"a": 100, "b": 60, "info": 0})
    assert result.score == 90.0  # (3 + 0.6) / 4
    assert row(result, "info").status == "fail" and row(result, "info").score == 0
    assert result.decision == "DEPLOY"


def test_missed_thresholds_at_or_below_zero_earn_nothing() -> None:
    gate = make_gate({"errors": {"pass": "<=0"}, "delta": {"pass": ">=0"}, "ok": {"pass": ">=1"}})
    result = score(gate, {"errors": 3, "delta": -9, "ok": 1})
    assert row(result, "errors").attainment == 0 and row(result, "delta").attainment == 0


def test_several_criteria_must_all_hold_and_the_worst_miss_counts() -> None:
    gate = make_gate({"p95": {"pass": ["<=500", "<=400"]}})
    result = score(gate, {"p95": 450})
    assert row(result, "p95").status == "fail"
    assert row(result, "p95").attainment == pytest.approx(400 / 450)


RELATIVE = make_gate({
    "p95": {"pass": ["<=500", "<=+10%"], "warning": "<=+25%", "unit": "ms"},
    "coverage": {"pass": ">=-2"},
}, compare_with=2)


def test_relative_criteria_without_history_pass_with_a_note() -> None:
    result = score(RELATIVE, {"p95": 480, "coverage": 70})
    assert result.decision == "DEPLOY" and result.score == 100.0
    p95 = row(result, "p95")
    assert p95.status == "pass" and p95.baseline is None
    assert p95.notes == ("<=+10%: no earlier passing result of gate release for web to compare "
                         "with, so it counts as met",)
    assert "note: p95: <=+10%: no earlier passing result" in result.table()


def test_relative_criteria_compare_with_the_mean_of_the_latest_passes() -> None:
    history = [{"p95": 400.0, "coverage": 80.0}, {"p95": 420.0, "coverage": 84.0},
               {"p95": 100.0, "coverage": 10.0}]  # the third is beyond compare_with: 2
    ok = score(RELATIVE, {"p95": 450, "coverage": 80.5}, history)
    assert row(ok, "p95").baseline == 410.0 and row(ok, "p95").status == "pass"  # <= 451
    assert row(ok, "coverage").status == "pass"  # >= 82 - 2
    slower = score(RELATIVE, {"p95": 492, "coverage": 79}, history)
    p95 = row(slower, "p95")
    assert p95.status == "warning"  # over 451 (+10%) but within 512.5 (+25%)
    assert p95.attainment == pytest.approx(451 / 492)
    assert row(slower, "coverage").status == "fail"
    assert row(slower, "coverage").attainment == pytest.approx(79 / 80)
    table = slower.table()
    assert "<=500, <=+10% (451)" in table and "<=+25% (512.5)" in table


def test_an_objective_new_since_the_last_pass_has_no_baseline() -> None:
    result = score(RELATIVE, {"p95": 9000, "coverage": 1}, [{"p95": 400.0}])
    assert row(result, "coverage").status == "pass" and row(result, "coverage").notes
    assert row(result, "p95").status == "fail"


def test_result_as_data() -> None:
    data = score(FOUR, {"tests": 94, "coverage": 99, "p95": 100, "lint": 0}).to_dict()
    assert data["decision"] == "REMEDIATE" and data["score"] == 98.5
    assert data["blocking"] == ["tests"] and data["pass"] == 90.0
    tests = data["objectives"][0]
    assert tests == {"name": "tests", "display": "tests", "value": 94, "unit": "",
                     "source": "given", "status": "fail", "key": True, "blocking": True,
                     "weight": 1.0, "attainment": 0.94, "score": 0.94, "pass": [">=100"],
                     "warning": [">=95"], "baseline": None, "notes": []}
