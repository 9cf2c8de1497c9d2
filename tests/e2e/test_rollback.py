"""Rollback on request: to the previous or a named version, with a reason, always recorded."""

from __future__ import annotations

import time

import httpx

from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def _rollback(box: Sandbox, *args: str) -> object:
    return box.run("rollback", "web", "--env", "production", *args)


def test_rollback_switches_to_the_warm_blue_slot(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "10m"})
    assert deploy(sandbox, "v1").returncode == 0
    assert deploy(sandbox, "v2").returncode == 0
    before = {i["version"]: i["pid"] for i in sandbox.json("status")[0]["instances"]}

    proc = _rollback(sandbox, "--reason", "checkout errors", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
    status = sandbox.json("status")[0]
    assert status["live"] == "v1"
    # The warm v1 process took the traffic back: same pid, nothing restarted.
    assert [(i["version"], i["pid"]) for i in status["instances"]] == [("v1", before["v1"])]
    run = sandbox.json("history")[0]
    assert (run["kind"], run["version"], run["from_version"]) == ("rollback", "v1", "v2")
    assert run["reason"] == "checkout errors"
    assert run["actor"] == "tester"


def test_rollback_to_a_named_version_restarts_it(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "rolling"}, replicas=2)
    for version in ("v1", "v2", "v3"):
        assert deploy(sandbox, version).returncode == 0
    proc = _rollback(sandbox, "--to", "v1", "--reason", "bad data in v2 and v3", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
    assert sandbox.json("status")[0]["live"] == "v1"


def test_rollback_refusals(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"})
    nothing = _rollback(sandbox, "--reason", "x", "--yes")
    assert nothing.returncode == 3
    assert "no version of web is live" in nothing.stderr

    assert deploy(sandbox, "v1").returncode == 0
    only = _rollback(sandbox, "--reason", "x", "--yes")
    assert only.returncode == 3
    assert "nothing to roll back to" in only.stderr

    assert deploy(sandbox, "v2").returncode == 0
    no_reason = _rollback(sandbox, "--yes")
    assert no_reason.returncode == 2
    assert "needs a reason" in no_reason.stderr
    unknown = _rollback(sandbox, "--to", "v9", "--reason", "x", "--yes")
    assert unknown.returncode == 2
    assert "no release 'v9'" in unknown.stderr
    unconfirmed = _rollback(sandbox, "--reason", "x")
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr
    assert sandbox.json("status")[0]["live"] == "v2"


def test_cancel_discards_the_new_version(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "0s"})
    assert deploy(sandbox, "v1").returncode == 0
    sandbox.set_faults({"v2": {"start_delay": 30}})
    proc = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v2")
    run_id = sandbox.latest_run("v2")
    sandbox.wait_for_step(run_id, "health-check v2")
    cancelled = sandbox.run("cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert proc.wait(timeout=60) == 1
    run = sandbox.json("runs", "show", run_id)
    assert run["status"] == "cancelled"
    assert run["steps"][-1]["name"] == "stop v2"
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
    assert [i["version"] for i in sandbox.json("status")[0]["instances"]] == ["v1"]


def test_warm_slot_is_decommissioned_after_keep_warm(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "1s"})
    assert deploy(sandbox, "v1").returncode == 0
    assert deploy(sandbox, "v2").returncode == 0
    v1_pid = next(i["pid"] for i in sandbox.json("status")[0]["instances"]
                  if i["version"] == "v1")
    time.sleep(1.5)
    proc = _rollback(sandbox, "--reason", "late bug", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "decommissioned web.production.v1.0: keep-warm time is over" in proc.stdout
    assert "start v1" in proc.stdout
    status = sandbox.json("status")[0]
    assert [i["version"] for i in status["instances"]] == ["v1"]
    assert status["instances"][0]["pid"] != v1_pid  # v1 was started again, not switched to
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
