"""The quality_gates model: criteria, percentages, inputs and their validation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rollgate.errors import SpecError
from rollgate.spec.loader import parse_spec
from rollgate.spec.quality import (
    Criterion,
    ExitCodeInput,
    JunitInput,
    QualityGate,
    ValueInput,
    parse_criterion,
)


def gate(**overrides: Any) -> dict[str, Any]:
    """A valid gate as YAML would give it, with ``overrides`` applied."""
    body: dict[str, Any] = {
        "pass": "90%",
        "warning": "75%",
        "objectives": {
            "unit_tests": {"input": {"kind": "junit", "paths": "reports/*.xml"},
                           "pass": ">=100", "key": True},
            "p95": {"input": {"kind": "value"}, "unit": "ms", "pass": ["<=500", "<=+10%"],
                    "warning": "<=800"},
        },
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(("text", "expected"), [
    (">=90", Criterion(">=90", ">=", 90.0, "absolute")),
    (">= 90%", Criterion(">= 90%", ">=", 90.0, "absolute")),
    ("<=500", Criterion("<=500", "<=", 500.0, "absolute")),
    ("==0", Criterion("==0", "==", 0.0, "absolute")),
    ("<=+10%", Criterion("<=+10%", "<=", 10.0, "percent")),
    (">=-5%", Criterion(">=-5%", ">=", -5.0, "percent")),
    ("<+50", Criterion("<+50", "<", 50.0, "delta")),
    ("> 0.5", Criterion("> 0.5", ">", 0.5, "absolute")),
])
def test_criteria_parse(text: str, expected: Criterion) -> None:
    assert parse_criterion(text) == expected


def test_relative_thresholds_come_from_the_baseline() -> None:
    assert parse_criterion("<=+10%").threshold(400.0) == pytest.approx(440.0)
    assert parse_criterion(">=-5%").threshold(80.0) == pytest.approx(76.0)
    assert parse_criterion("<=+10%").threshold(-20.0) == pytest.approx(-18.0)
    assert parse_criterion("<+50").threshold(400.0) == 450.0
    assert parse_criterion("<=+10%").threshold(None) is None
    assert parse_criterion("<=500").threshold(None) == 500.0


@pytest.mark.parametrize("text", ["90", "=>90", ">=ninety", "<=10%%", "!=0", ">=1e3", ""])
def test_bad_criteria_say_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="is not a criterion: write OP NUMBER"):
        parse_criterion(text)


def test_gate_validates_and_normalizes() -> None:
    model = QualityGate.model_validate(gate())
    assert (model.pass_, model.warning, model.compare_with) == (90.0, 75.0, 1)
    unit = model.objectives["unit_tests"]
    assert isinstance(unit.input, JunitInput) and unit.input.paths == ["reports/*.xml"]
    assert unit.pass_ == [">=100"] and unit.key and unit.weight == 1.0
    assert unit.shown_unit() == "%"
    p95 = model.objectives["p95"]
    assert isinstance(p95.input, ValueInput) and p95.input.run is None
    assert [c.relative for c in p95.pass_criteria()] == ["absolute", "percent"]
    assert p95.shown_unit() == "ms"


def test_gate_round_trips_through_json() -> None:
    model = QualityGate.model_validate(gate(compare_with=3))
    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["pass"] == "90%" and dumped["objectives"]["p95"]["pass"] == ["<=500", "<=+10%"]
    assert QualityGate.model_validate(dumped) == model


def test_exit_code_input_needs_a_command() -> None:
    model = QualityGate.model_validate(gate(objectives={
        "lint": {"input": {"kind": "exit-code", "run": "ruff check src", "timeout": "2m"},
                 "pass": "==0"}}))
    lint = model.objectives["lint"].input
    assert isinstance(lint, ExitCodeInput) and lint.timeout == 120.0
    with pytest.raises(ValidationError, match=r"objectives\.lint\.input\.exit-code\.run"):
        QualityGate.model_validate(gate(objectives={
            "lint": {"input": {"kind": "exit-code"}, "pass": "==0"}}))


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"pass": "ninety"}, "must be a percentage like 90%"),
    ({"pass": "120%"}, "less than or equal to 100"),
    ({"pass": "70%"}, r"warning \(75%\) must not be above pass \(70%\)"),
    ({"objectives": {}}, "at least 1 item"),
    ({"objectives": {"a": {"input": {"kind": "value"}, "pass": ">=1", "weight": 0}}},
     "at least one objective needs a weight above 0"),
    ({"objectives": {"a": {"input": {"kind": "value"}, "pass": "90"}}},
     "'90' is not a criterion"),
    ({"objectives": {"a": {"input": {"kind": "value"}, "pass": []}}}, "at least 1 item"),
    ({"objectives": {"a": {"input": {"kind": "tests"}, "pass": ">=1"}}},
     "does not match any of the expected tags"),
    ({"objectives": {"Unit Tests": {"input": {"kind": "value"}, "pass": ">=1"}}},
     "should match pattern"),
    ({"objectives": {"a": {"input": {"kind": "value"}, "pass": ">=1", "weigth": 2}}},
     "Extra inputs are not permitted"),
    ({"compare_with": 0}, "greater than or equal to 1"),
])
def test_bad_gates_are_refused(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        QualityGate.model_validate(gate(**overrides))


SPEC = """\
project: shop
services:
  web: {command: "x", port: 8080}
environments:
  production: {}
quality_gates:
  release:
    pass: 70%
    warning: 80%
    objectives:
      unit_tests:
        input: {kind: junit, paths: ["reports/*.xml"]}
        pass: "90"
      p95:
        input: {kind: valu}
        pass: "<=500"
"""


def test_spec_errors_name_the_line_of_the_gate_field() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(SPEC, "rollgate.yaml")
    assert caught.value.problems == [
        "rollgate.yaml:13: quality_gates.release.objectives.unit_tests.pass: '90' is not a "
        "criterion: write OP NUMBER with OP one of >=, <=, >, <, == (e.g. '>=90', '<=500'), "
        "or a change from earlier releases with a sign (e.g. '<=+10%')",
        "rollgate.yaml:15: quality_gates.release.objectives.p95.input.kind: must be one of "
        "junit, coverage, value, exit-code",
    ]
    fields_fixed = SPEC.replace('pass: "90"', 'pass: ">=90"').replace("valu}", "value}")
    with pytest.raises(SpecError) as caught:
        parse_spec(fields_fixed, "rollgate.yaml")
    assert caught.value.problems == [
        "rollgate.yaml:7: quality_gates.release: warning (80%) must not be above pass (70%)"]


def test_a_spec_with_a_gate_loads() -> None:
    fixed = SPEC.replace('pass: "90"', 'pass: ">=90"').replace("valu}", "value}") \
        .replace("warning: 80%", "warning: 60%")
    spec = parse_spec(fixed, "rollgate.yaml")
    assert list(spec.quality_gates["release"].objectives) == ["unit_tests", "p95"]
