"""Seed 003's decision engine output, reproduced from real JUnit reports.

    Decision: REMEDIATE
    Overall Score: 97.5%
    Blocking Failures: 1 (unit_tests)
    ✅ Code Quality: 100%  ✅ Security: 100%  ❌ Unit Tests: 85% (BLOCKING)
    ✅ Integration: 100%   ✅ E2E Tests: 100%

fixtures/seed003/gate.yaml: every suite must pass in full, security counts double, unit
tests are key. The unit report has 17 of 20 tests passing, so unit tests earn 0.85 of their
weight: (1 + 2 + 0.85 + 1 + 1) / 6 = 97.5%, and their failure is blocking.
"""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from rollgate.gates.measure import GateInputs
from rollgate.gates.quality import GateResult, evaluate
from rollgate.spec.quality import QualityGate

SEED = Path(__file__).parent / "fixtures" / "seed003"


def seed_gate() -> QualityGate:
    """The gate of fixtures/seed003/gate.yaml."""
    return QualityGate.model_validate(YAML(typ="safe").load((SEED / "gate.yaml").read_text()))


def seed_result() -> GateResult:
    return evaluate(seed_gate(), GateInputs(base_dir=SEED), name="release", service="api",
                    version="2.4.0")


def test_seed_003_decision_table_from_real_reports() -> None:
    result = seed_result()
    lines = result.table().splitlines()
    assert lines[1:4] == ["Decision: REMEDIATE", "Overall Score: 97.5%",
                          "Blocking Failures: 1 (unit_tests)"]
    rows = [re.split(r" {2,}", line) for line in lines if line.startswith(("✅", "❌"))]
    # icon and objective, value, pass criteria, weight, score, result, what was measured
    # (the empty warning column folds away in the split)
    assert rows == [
        ["✅ Code Quality", "100%", ">=100", "1", "1", "pass", "1/1 passed (1 file)"],
        ["✅ Security", "100%", ">=100", "2", "2", "pass", "6/6 passed (1 file)"],
        ["❌ Unit Tests", "85%", ">=100", "1", "0.85", "fail (BLOCKING)",
         "17/20 passed, 3 failed (1 file)"],
        ["✅ Integration", "100%", ">=100", "1", "1", "pass", "5/5 passed (2 files)"],
        ["✅ E2E Tests", "100%", ">=100", "1", "1", "pass", "3/3 passed, 1 skipped (1 file)"],
    ]


def test_seed_003_numbers() -> None:
    result = seed_result()
    assert (result.decision, result.score, result.blocking) == ("REMEDIATE", 97.5,
                                                                 ["unit_tests"])
    assert [(r.display, r.value, r.status, r.score) for r in result.rows] == [
        ("Code Quality", 100.0, "pass", 1.0), ("Security", 100.0, "pass", 2.0),
        ("Unit Tests", 85.0, "fail", 0.85), ("Integration", 100.0, "pass", 1.0),
        ("E2E Tests", 100.0, "pass", 1.0)]


def test_seed_003_with_the_unit_tests_fixed_deploys(tmp_path: Path) -> None:
    fixed = tmp_path / "unit.xml"
    fixed.write_text((SEED / "unit.xml").read_text().replace("<failure", "<system-out")
                     .replace("</failure>", "</system-out>"))
    result = evaluate(seed_gate(), GateInputs(base_dir=SEED, reports_dir=tmp_path,
                                              reports={"unit_tests": ["unit.xml"]}),
                      name="release", service="api")
    assert (result.decision, result.score, result.blocking) == ("DEPLOY", 100.0, [])
