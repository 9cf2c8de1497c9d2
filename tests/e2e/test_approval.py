"""`pause: approval` holds a canary until `rollgate approve`; without it, the run rolls back."""

from __future__ import annotations

import httpx

from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def test_canary_waits_for_approval(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "canary",
                           "steps": [{"weight": 50}, {"pause": "approval"}]})
    assert deploy(sandbox, "v1").returncode == 0
    early = sandbox.run("approve", "run-nope")
    assert early.returncode == 2

    proc = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v2")
    run_id = sandbox.latest_run("v2")
    sandbox.wait_for_step(run_id, "wait for approval")
    seen = {httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] for _ in range(40)}
    assert seen == {"v1", "v2"}

    approved = sandbox.run("approve", run_id, "--comment", "dashboards look fine")
    assert approved.returncode == 0, approved.stderr
    assert proc.wait(timeout=60) == 0
    run = sandbox.json("runs", "show", run_id)
    step = next(s for s in run["steps"] if s["name"] == "wait for approval")
    assert step["state"] == "succeeded"
    assert "approved by tester: dashboards look fine" in step["output"]
    assert sandbox.json("status")[0]["weights"] == {"v2": 100}
    again = sandbox.run("approve", run_id)
    assert again.returncode == 3


def test_no_approval_in_time_rolls_back(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "canary",
                           "steps": [{"weight": 50}, {"pause": "approval", "timeout": "2s"}]})
    assert deploy(sandbox, "v1").returncode == 0
    proc = deploy(sandbox, "v2")
    assert proc.returncode == 1
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "rolled_back"
    assert "no approval within 2s" in run["error"]
    names = [s["name"] for s in run["steps"]]
    assert "rollback: v2 to 0%, v1 to 100%" in names
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
