"""Post-deploy checks of every kind run by the engine through the real CLI, with the
context a deploy gives them: the spec's folder, the environment, the proxy's counters."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.checks.helpers import SECRET

CHECKS: dict[str, Any] = {
    "items": {"kind": "http", "path": "/api/items"},
    "secrets": {"kind": "env", "required": ["API_TOKEN", "PAYMENTS_KEY"],
                "min_length": {"API_TOKEN": 16}, "files": {"production": ".env.production"}},
    "flags": {"kind": "flags", "file": "flags/{environment}.yaml",
              "expect": {"production": {"new_checkout": False}}},
    "budget": {"kind": "error_budget", "objective": 99.0, "window": "30d"},
}


@pytest.fixture
def project(sandbox: Sandbox) -> Iterator[Sandbox]:
    """A demo service whose production deploys run the four checks above, in order."""
    sandbox.write_spec({
        "project": "shop",
        "services": {"web": demo_service(free_port(), sandbox.faults_path,
                                         env={"API_TOKEN": "${DEMO_API_TOKEN}"})},
        "environments": {"production": {"strategy": {"kind": "recreate"},
                                        "checks": list(CHECKS)}},
        "checks": CHECKS,
    })
    (sandbox.root / ".env.production").write_text("PAYMENTS_KEY=pk_live_abc\n")
    (sandbox.root / "flags").mkdir()
    (sandbox.root / "flags" / "production.yaml").write_text("new_checkout: false\n")
    os.environ["DEMO_API_TOKEN"] = SECRET
    try:
        yield sandbox
    finally:
        del os.environ["DEMO_API_TOKEN"]


def checks_step(box: Sandbox, version: str) -> str:
    run = box.json("runs", "show", box.latest_run(version))
    step = next(s for s in run["steps"] if s["name"] == "post-deploy checks")
    return str(step["output"])


@pytest.mark.e2e
def test_a_deploy_runs_each_kind_and_a_warning_does_not_fail_it(project: Sandbox) -> None:
    proc = project.run("deploy", "web", "--env", "production", "--version", "v1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = checks_step(project, "v1").splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "PASS items", "PASS secrets", "PASS flags", "WARN budget"]
    assert "production: 2 required set, 1 long enough" in lines[1]
    assert "flags/production.yaml: 1 flags as expected in production" in lines[2]
    # The proxy keeps an hour of counters: judged on that hour, and said so.
    assert ("availability 100.000% over 1h (the metric source keeps only that of the 30d "
            "asked), objective 99%: 0 failed of 1 requests") in lines[3]
    assert SECRET not in proc.stdout


@pytest.mark.e2e
def test_a_failing_check_fails_the_deploy_naming_what_differs(project: Sandbox) -> None:
    (project.root / "flags" / "production.yaml").write_text("new_checkout: true\n")
    proc = project.run("deploy", "web", "--env", "production", "--version", "v1")
    assert proc.returncode == 1
    run = project.json("runs", "show", project.latest_run("v1"))
    assert ("post-deploy check failed: flags (flags/production.yaml: 1 of 1 flags differ in "
            "production: new_checkout is true (expected false))") in run["error"]


@pytest.mark.e2e
def test_validate_names_the_line_of_a_wrong_check_field(project: Sandbox) -> None:
    text = project.spec_path.read_text()
    project.spec_path.write_text(text.replace("    objective: 99.0\n", "    objectve: 99.0\n"))
    line = project.spec_path.read_text().splitlines().index("    objectve: 99.0") + 1
    proc = project.run("validate")
    assert proc.returncode == 2
    assert f"rollgate.yaml:{line}: checks.budget.objectve: unknown key, did you mean " \
           "'objective'?" in proc.stderr
