"""A blue-green deploy whose process is SIGKILLed mid health-check is resumed to completion."""

from __future__ import annotations

import signal
import time

import httpx

from rollgate.demo.load import LoadLoop
from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def test_sigkill_during_health_check_then_resume(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "1m"})
    sandbox.set_faults({"v2": {"start_delay": 5}})
    assert deploy(sandbox, "v1").returncode == 0

    with LoadLoop(f"http://127.0.0.1:{port}/", concurrency=2, max_seconds=120) as load:
        cli = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v2")
        run_id = sandbox.latest_run("v2")
        sandbox.wait_for_step(run_id, "health-check v2", "running")
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=10)
        assert sandbox.json("runs", "show", run_id)["status"] == "running"

        resumed = sandbox.run("resume", run_id)
        time.sleep(0.5)  # a few requests after the switch
        summary = load.stop()

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = sandbox.json("runs", "show", run_id)
    assert run["status"] == "succeeded"
    names = [s["name"] for s in run["steps"]]
    cut = names.index("health-check v2")
    assert [s["attempts"] for s in run["steps"][:cut]] == [1] * cut, run["steps"]
    assert run["steps"][cut]["attempts"] == 2
    assert all(s["attempts"] == 1 for s in run["steps"][cut + 1:])

    # Clients never saw anything but 200, and both versions served them.
    assert summary.total > 20
    assert set(summary.by_status) == {200}, summary.by_status
    assert {"v1", "v2"} <= set(summary.by_version)
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v2"
