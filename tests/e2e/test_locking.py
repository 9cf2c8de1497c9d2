"""One run per service and environment: a second deploy is refused, or waits with --wait."""

from __future__ import annotations

import time

from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def test_second_deploy_is_refused_naming_the_active_run(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "blue-green", "keep_warm": "0s"})
    sandbox.set_faults({"v1": {"start_delay": 3}})
    first = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v1")
    active = sandbox.latest_run("v1")

    second = deploy(sandbox, "v2")
    assert second.returncode == 3, second.stdout + second.stderr
    assert active in second.stderr
    assert "busy" in second.stderr

    waited = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v2", "--wait")
    assert first.wait(timeout=60) == 0
    assert waited.wait(timeout=60) == 0
    history = sandbox.json("history")
    assert [r["version"] for r in history] == ["v2", "v1"]
    assert [r["status"] for r in history] == ["succeeded", "succeeded"]


def test_resume_refuses_a_run_still_driven(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"})
    sandbox.set_faults({"v1": {"start_delay": 3}})
    proc = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v1")
    run_id = sandbox.latest_run("v1")
    time.sleep(1.0)
    refused = sandbox.run("resume", run_id)
    assert refused.returncode == 3
    assert "still being driven" in refused.stderr
    assert proc.wait(timeout=60) == 0
