"""Gates against a real store: results recorded, relative criteria against earlier passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from rollgate.errors import UsageError
from rollgate.gates.measure import GateInputs
from rollgate.gates.quality_service import Evaluation, run_gate
from rollgate.spec.quality import QualityGate
from rollgate.store import audit
from rollgate.store.db import Database, alembic_config
from rollgate.store.tables import QualityResult

FIXTURES = Path(__file__).parent / "fixtures"

GATE = QualityGate.model_validate({
    "pass": "90%", "warning": "75%", "compare_with": 2,
    "objectives": {
        "tests": {"display": "Unit Tests", "input": {"kind": "junit", "paths": ["unit.xml"]},
                  "pass": ">=80", "key": True},
        "coverage": {"input": {"kind": "coverage", "path": "coverage.xml"},
                     "pass": [">=75", ">=-2"]},
        "p95": {"input": {"kind": "value"}, "unit": "ms", "pass": "<=+10%",
                "warning": "<=+25%"},
    }})


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """A folder with a passing unit report (85%) and a coverage report (82%)."""
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(FIXTURES / "seed003" / "unit.xml", folder / "unit.xml")
    shutil.copy(FIXTURES / "reports" / "coverage.xml", folder / "coverage.xml")
    return folder


def gate(db: Database, reports: Path, p95: float, version: str | None = None,
         record: bool = True) -> Evaluation:
    return run_gate(db, GATE, GateInputs(base_dir=reports, values={"p95": p95}),
                    name="release", service="web", version=version, actor="ci", record=record)


def recorded(db: Database) -> list[QualityResult]:
    with db.session() as s:
        return list(s.scalars(select(QualityResult).order_by(QualityResult.id)))


def test_a_result_is_recorded_with_values_score_decision_and_actor(
        db: Database, reports: Path) -> None:
    evaluation = gate(db, reports, 400, version="1.0.0")
    assert evaluation.result.decision == "DEPLOY" and evaluation.recorded is not None
    [row] = recorded(db)
    assert (row.id, row.gate, row.service, row.version, row.decision, row.score, row.actor) == \
        (evaluation.recorded, "release", "web", "1.0.0", "DEPLOY", 100.0, "ci")
    assert row.objectives == {
        "tests": {"value": 85.0, "status": "pass", "score": 1.0},
        "coverage": {"value": pytest.approx(82.0), "status": "pass", "score": 1.0},
        "p95": {"value": 400.0, "status": "pass", "score": 1.0}}
    with db.session() as s:
        [event] = audit.events(session=s, action="gate.")
        assert audit.verify(session=s).ok
    assert (event.actor, event.action, event.target) == ("ci", "gate.evaluated",
                                                         "gate:release/web")
    assert event.detail == {"result": row.id, "version": "1.0.0", "score": 100.0,
                            "decision": "DEPLOY", "blocking": []}


def test_relative_criteria_compare_with_recorded_passes(db: Database, reports: Path) -> None:
    first = gate(db, reports, 400, version="1.0.0").result
    assert first.decision == "DEPLOY"
    assert any("no earlier passing result" in n for r in first.rows for n in r.notes)

    gate(db, reports, 420, version="1.1.0")  # baseline 400: <= 440, passes
    # Baseline: mean of the two latest passes, (400 + 420) / 2 = 410 -> pass at <= 451
    slow = gate(db, reports, 500, version="1.2.0").result
    p95 = next(r for r in slow.rows if r.name == "p95")
    assert (p95.baseline, p95.status) == (410.0, "warning")  # <= 512.5 (+25%)
    assert slow.score == pytest.approx(100 * (2 + 451 / 500) / 3, abs=0.01)
    assert slow.decision == "DEPLOY"  # 96.75%: a warning only costs what it missed

    # 1.2.0 passed too: the baseline is now (420 + 500) / 2 = 460, so 1000 fails (over
    # 575), earning 506/1000 of its weight: 83.53%. A REMEDIATE result never becomes a
    # baseline.
    regression = gate(db, reports, 1000, version="1.3.0").result
    assert next(r for r in regression.rows if r.name == "p95").status == "fail"
    assert (regression.score, regression.decision) == (83.53, "REMEDIATE")
    again = gate(db, reports, 460, version="1.4.0").result
    assert next(r for r in again.rows if r.name == "p95").baseline == 460.0
    assert [r.decision for r in recorded(db)] == ["DEPLOY", "DEPLOY", "DEPLOY", "REMEDIATE",
                                                  "DEPLOY"]


def test_a_version_is_not_its_own_baseline(db: Database, reports: Path) -> None:
    gate(db, reports, 400, version="1.0.0")
    gate(db, reports, 1000, version="2.0.0", record=True)  # fails: not a baseline
    rerun = gate(db, reports, 400, version="1.0.0").result
    p95 = next(r for r in rerun.rows if r.name == "p95")
    assert p95.baseline is None and p95.notes  # only 1.0.0 passed, and it is this version
    later = gate(db, reports, 430, version="1.1.0").result
    assert next(r for r in later.rows if r.name == "p95").baseline == 400.0


def test_results_are_per_gate_and_service(db: Database, reports: Path) -> None:
    gate(db, reports, 100, version="1.0.0")
    other = run_gate(db, GATE, GateInputs(base_dir=reports, values={"p95": 900}),
                     name="release", service="api", version="1.0.0", actor="ci")
    assert other.result.decision == "DEPLOY"  # api has no history: 900 is not compared
    assert next(r for r in other.result.rows if r.name == "p95").baseline is None


def test_no_record_keeps_nothing(db: Database, reports: Path) -> None:
    evaluation = gate(db, reports, 400, record=False)
    assert evaluation.recorded is None and evaluation.result.decision == "DEPLOY"
    assert recorded(db) == []


@pytest.mark.parametrize(("name", "expected"), [
    ("unit.xml", r"unit\.xml: no such JUnit file|no JUnit file matches 'unit\.xml'"),
    ("coverage.xml", r"coverage\.xml: no such Cobertura file"),
])
def test_a_missing_report_is_an_error_and_nothing_is_recorded(
        db: Database, reports: Path, name: str, expected: str) -> None:
    gate(db, reports, 400)
    (reports / name).unlink()
    with pytest.raises(UsageError, match=expected):
        gate(db, reports, 400)
    assert len(recorded(db)) == 1


def test_an_unparsable_report_is_an_error_naming_file_and_line(db: Database,
                                                               reports: Path) -> None:
    shutil.copy(FIXTURES / "reports" / "truncated.xml", reports / "unit.xml")
    with pytest.raises(UsageError, match=r"unit\.xml:6: not well-formed JUnit XML"):
        gate(db, reports, 400)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(QualityResult)) == 0
        assert audit.events(session=s) == []


def test_migration_0007_adds_and_removes_quality_results(db: Database) -> None:
    inspector = inspect(db.engine)
    assert "quality_results" in inspector.get_table_names()
    assert [i["name"] for i in inspector.get_indexes("quality_results")] == \
        ["ix_quality_results_target"]
    command.downgrade(alembic_config(db.engine), "0006")
    assert "quality_results" not in inspect(db.engine).get_table_names()
    db.migrate()
    assert "quality_results" in inspect(db.engine).get_table_names()
