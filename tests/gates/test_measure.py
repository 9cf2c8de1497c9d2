"""Measuring objectives: given numbers, commands, report paths from the spec or the caller."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from rollgate.errors import UsageError
from rollgate.gates.measure import GateInputs, measure
from rollgate.spec.quality import QualityGate

FIXTURES = Path(__file__).parent / "fixtures"


def one(input_: dict[str, Any], **extra: Any) -> QualityGate:
    """A gate with the single objective ``x`` reading ``input_``."""
    return QualityGate.model_validate(
        {"objectives": {"x": {"input": input_, "pass": ">=1", **extra}}})


def test_a_given_value_is_used_as_is() -> None:
    measured = measure(one({"kind": "value"}), GateInputs(values={"x": 412.5}))
    assert (measured["x"].value, measured["x"].source) == (412.5, "given")


def test_a_value_objective_without_value_or_command_says_how_to_give_one() -> None:
    with pytest.raises(UsageError, match=r"objective 'x' needs a value: give --value x=NUMBER"):
        measure(one({"kind": "value"}), GateInputs())


def test_a_command_prints_the_value_in_the_spec_folder_with_the_gate_environment(
        tmp_path: Path) -> None:
    (tmp_path / "p95.txt").write_text("412\n")
    gate = one({"kind": "value", "run": 'echo "checking $ROLLGATE_SERVICE"; cat p95.txt'})
    measured = measure(gate, GateInputs(base_dir=tmp_path, env={"ROLLGATE_SERVICE": "web"}))
    assert measured["x"].value == 412.0
    assert measured["x"].source == "printed by `echo \"checking $ROLLGATE_SERVICE\"; cat p95.txt`"


def test_a_given_value_wins_over_the_command() -> None:
    gate = one({"kind": "value", "run": "exit 7"})
    assert measure(gate, GateInputs(values={"x": 3}))["x"].value == 3


@pytest.mark.parametrize(("run", "expected"), [
    ("echo fast", r"`echo fast` exited 0 and printed: 'fast'; it must exit 0 and print the "
                  r"number on its last line"),
    ("echo 12; exit 2", r"`echo 12; exit 2` exited 2 and printed: '12'"),
    ("true", r"`true` exited 0 and printed nothing"),
])
def test_a_command_that_gives_no_number_is_an_error(run: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        measure(one({"kind": "value", "run": run}), GateInputs())


def test_command_output_is_redacted_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "tok-123456")
    with pytest.raises(UsageError) as caught:
        measure(one({"kind": "value", "run": "echo $DEPLOY_TOKEN"}), GateInputs())
    assert "tok-123456" not in caught.value.message and "********" in caught.value.message


def test_the_exit_code_of_a_command_is_the_value() -> None:
    gate = one({"kind": "exit-code", "run": "echo lint output; exit 3"})
    measured = measure(gate, GateInputs())
    assert (measured["x"].value, measured["x"].source) == (3.0, "exit 3 of `echo lint output; "
                                                               "exit 3`")


def test_a_command_that_runs_too_long_is_stopped_with_its_children() -> None:
    gate = one({"kind": "exit-code", "run": "sleep 30 & sleep 30; wait", "timeout": "300ms"})
    start = time.monotonic()
    with pytest.raises(UsageError, match=r"took longer than 0\.3s \(raise input\.timeout"):
        measure(gate, GateInputs())
    assert time.monotonic() - start < 5


def test_reports_given_by_the_caller_replace_the_spec_paths() -> None:
    gate = QualityGate.model_validate({"objectives": {
        "tests": {"input": {"kind": "junit", "paths": ["nothing-here/*.xml"]}, "pass": ">=100"},
        "cov": {"input": {"kind": "coverage", "path": "nothing.xml"}, "pass": ">=80"}}})
    measured = measure(gate, GateInputs(
        base_dir=FIXTURES / "seed003", reports_dir=FIXTURES,
        reports={"tests": ["seed003/unit.xml", "seed003/integration/*.xml"],
                 "cov": ["reports/coverage.xml"]}))
    assert measured["tests"].value == pytest.approx(22 / 25 * 100)
    assert measured["tests"].source == "22/25 passed, 3 failed (3 files)"
    assert measured["cov"].value == pytest.approx(82.0)
    assert measured["cov"].source.startswith("410/500 lines (")


@pytest.mark.parametrize(("inputs", "expected"), [
    (GateInputs(values={"nope": 1}), "unknown objective 'nope' \\(the gate has tests, cov, x\\)"),
    (GateInputs(values={"tests": 1}), "objective 'tests' is measured from JUnit reports, not "
                                      "given: drop --value tests=..."),
    (GateInputs(values={"x": 1}, reports={"x": ["a.xml"]}), "objective 'x' reads no report"),
    (GateInputs(values={"x": 1}), "objective 'tests' needs JUnit reports: set input.paths"),
    (GateInputs(values={"x": 1}, reports={"tests": ["seed003/unit.xml"],
                                          "cov": ["a.xml", "b.xml"]}),
     "objective 'cov' needs one Cobertura file"),
])
def test_inputs_that_cannot_work_are_refused(inputs: GateInputs, expected: str) -> None:
    gate = QualityGate.model_validate({"objectives": {
        "tests": {"input": {"kind": "junit"}, "pass": ">=100"},
        "cov": {"input": {"kind": "coverage"}, "pass": ">=80"},
        "x": {"input": {"kind": "value"}, "pass": ">=1"}}})
    inputs = GateInputs(reports_dir=FIXTURES, values=inputs.values, reports=inputs.reports)
    with pytest.raises(UsageError, match=expected):
        measure(gate, inputs)


def test_an_exit_code_is_always_measured_never_given() -> None:
    gate = one({"kind": "exit-code", "run": "exit 1"}, **{"pass": "==0"})
    with pytest.raises(UsageError, match=r"objective 'x' is measured from the exit code of "
                                         r"`exit 1`, not given: drop --value x=\.\.\."):
        measure(gate, GateInputs(values={"x": 0}))


def test_reports_are_read_before_any_command_runs(tmp_path: Path) -> None:
    gate = QualityGate.model_validate({"objectives": {
        "lint": {"input": {"kind": "exit-code", "run": "touch ran"}, "pass": "==0"},
        "tests": {"input": {"kind": "junit", "paths": ["missing.xml"]}, "pass": ">=100"}}})
    with pytest.raises(UsageError, match=r"no JUnit file matches 'missing\.xml'"):
        measure(gate, GateInputs(base_dir=tmp_path))
    assert not (tmp_path / "ran").exists()
    (tmp_path / "missing.xml").write_text('<testsuite><testcase name="t"/></testsuite>')
    assert list(measure(gate, GateInputs(base_dir=tmp_path))) == ["lint", "tests"]
    assert (tmp_path / "ran").exists()
