"""`rollgate gate` through the real CLI: the seed 003 table, exit codes, JSON, bad reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from sqlalchemy import select

from rollgate.store.tables import QualityResult
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service

FIXTURES = Path(__file__).parent / "fixtures"


def project(box: Sandbox, **gates: dict[str, Any]) -> None:
    """A spec with the seed 003 gate as ``release`` (reports in the project's folder)."""
    shutil.copytree(FIXTURES / "seed003", box.root, dirs_exist_ok=True)
    release = YAML(typ="safe").load((FIXTURES / "seed003" / "gate.yaml").read_text())
    box.write_spec({
        "project": "dotmac",
        "services": {"api": demo_service(free_port(), box.faults_path)},
        "environments": {"production": {}},
        "quality_gates": {"release": release, **gates},
    })


def results(box: Sandbox) -> list[QualityResult]:
    with box.store().session() as s:
        return list(s.scalars(select(QualityResult).order_by(QualityResult.id)))


def test_seed_003_table_and_exit_1(sandbox: Sandbox) -> None:
    project(sandbox)
    proc = sandbox.run("gate", "release", "--service", "api", "--version", "2.4.0")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:4] == ["QUALITY GATE release · api 2.4.0", "Decision: REMEDIATE",
                         "Overall Score: 97.5%", "Blocking Failures: 1 (unit_tests)"]
    unit = next(line for line in lines if line.startswith("❌"))
    assert unit.split()[:4] == ["❌", "Unit", "Tests", "85%"] and "fail (BLOCKING)" in unit
    assert sum(line.startswith("✅") for line in lines) == 4
    [row] = results(sandbox)
    assert (row.gate, row.service, row.version, row.score, row.decision, row.actor) == \
        ("release", "api", "2.4.0", 97.5, "REMEDIATE", "tester")


def test_deploy_exits_0_and_json_says_what_was_recorded(sandbox: Sandbox) -> None:
    project(sandbox)
    fixed = sandbox.root / "fixed" / "unit.xml"
    fixed.parent.mkdir()
    fixed.write_text((FIXTURES / "seed003" / "unit.xml").read_text()
                     .replace("<failure", "<system-out").replace("</failure>", "</system-out>"))
    proc = sandbox.run("gate", "release", "-s", "api", "--junit", "unit_tests=fixed/*.xml",
                       "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["decision"], data["score"], data["blocking"]) == ("DEPLOY", 100.0, [])
    assert data["recorded"] == results(sandbox)[0].id
    unit = next(o for o in data["objectives"] if o["name"] == "unit_tests")
    assert unit["source"] == "20/20 passed (1 file)"


def test_value_objectives_and_relative_criteria_across_releases(sandbox: Sandbox) -> None:
    project(sandbox, perf={
        "compare_with": 2,
        "objectives": {
            "coverage": {"input": {"kind": "coverage"}, "pass": ">=80", "warning": ">=70"},
            "p95": {"input": {"kind": "value"}, "unit": "ms", "pass": "<=+10%",
                    "warning": "<=+25%", "key": True}}})
    cov = str(FIXTURES / "reports" / "coverage.xml")

    def gate(version: str, p95: str, *extra: str) -> Any:
        proc = sandbox.run("gate", "perf", "-s", "api", "-v", version, "--coverage", cov,
                           "--value", f"p95={p95}", "--json", *extra)
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout)

    first = gate("1.0.0", "400")
    assert first["decision"] == "DEPLOY"
    assert first["objectives"][1]["notes"] == [
        "<=+10%: no earlier passing result of gate perf for api to compare with, so it "
        "counts as met"]
    assert gate("1.1.0", "430")["decision"] == "DEPLOY"
    dry = gate("1.2.0", "800", "--no-record")
    assert dry["recorded"] is None and dry["objectives"][1]["baseline"] == 415.0
    assert (dry["decision"], dry["blocking"]) == ("REMEDIATE", ["p95"])
    assert len(results(sandbox)) == 2


@pytest.mark.parametrize(("args", "expected"), [
    (["--junit", "unit_tests=missing/*.xml"],
     "error: no JUnit file matches 'missing/*.xml' in"),
    (["--junit", "unit_tests=broken.xml"],
     "error: broken.xml:6: not well-formed JUnit XML (mismatched tag at column 5)"),
    (["--junit", "broken.xml"], "error: --junit broken.xml: say which objective it is for"),
    (["--junit", "nope=broken.xml"], "error: --junit nope=broken.xml: unknown objective 'nope'"),
    (["--coverage", "x.xml"], "error: --coverage x.xml: say which objective it is for, as "
                              "OBJECTIVE=PATH (objectives reading it: none)"),
    (["--value", "unit_tests"], "error: --value unit_tests: write OBJECTIVE=NUMBER"),
    (["--value", "unit_tests=3"], "error: objective 'unit_tests' is measured from JUnit"),
])
def test_bad_input_exits_2_naming_the_problem_and_records_nothing(
        sandbox: Sandbox, args: list[str], expected: str) -> None:
    project(sandbox)
    shutil.copy(FIXTURES / "reports" / "truncated.xml", sandbox.root / "broken.xml")
    proc = sandbox.run("gate", "release", "--service", "api", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr.replace("\n", " "), proc.stderr
    assert proc.stdout == ""
    if sandbox.store().revision() is not None:
        assert results(sandbox) == []


@pytest.mark.parametrize(("args", "expected"), [
    (["relaese", "-s", "api"], "error: no quality gate 'relaese' in the spec (did you mean "
                               "'release'?)"),
    (["release", "-s", "apu"], "error: no service 'apu' in the spec (did you mean 'api'?)"),
])
def test_unknown_gate_or_service(sandbox: Sandbox, args: list[str], expected: str) -> None:
    project(sandbox)
    proc = sandbox.run("gate", *args)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr


def test_a_deploy_needs_the_versions_deploy_decision_from_the_environments_gate(
        sandbox: Sandbox) -> None:
    project(sandbox)
    spec = YAML(typ="safe").load(sandbox.spec_path.read_text())
    spec["environments"]["production"]["quality_gate"] = "release"
    sandbox.write_spec(spec)
    deploy = ("deploy", "api", "--env", "production", "--version", "2.4.0")
    untested = sandbox.run(*deploy)
    assert untested.returncode == 3
    said = " ".join(untested.stderr.split())
    assert "api 2.4.0 has not passed the quality gate release of production" in said
    assert "it has no result for this version" in said
    assert sandbox.run("gate", "release", "--service", "api", "--version", "2.4.0"
                       ).returncode == 1  # REMEDIATE: the unit tests fail
    refused = sandbox.run(*deploy)
    assert refused.returncode == 3
    assert "its latest result is REMEDIATE at 97.5%" in " ".join(refused.stderr.split())
    dry = json.loads(sandbox.run(*deploy, "--dry-run", "--json").stdout)
    assert {g["gate"]: g["outcome"] for g in dry["gates"]}["quality"] == "block"

    fixed = sandbox.root / "fixed" / "unit.xml"
    fixed.parent.mkdir()
    fixed.write_text((FIXTURES / "seed003" / "unit.xml").read_text()
                     .replace("<failure", "<system-out").replace("</failure>", "</system-out>"))
    assert sandbox.run("gate", "release", "--service", "api", "--version", "2.4.0",
                       "--junit", "unit_tests=fixed/*.xml").returncode == 0
    done = sandbox.run(*deploy)
    assert done.returncode == 0, done.stdout + done.stderr
