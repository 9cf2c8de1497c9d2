"""Each strategy replaces the live version; rolling, blue-green and canary without a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rollgate.demo.load import LoadLoop
from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def _status(box: Sandbox) -> dict[str, Any]:
    rows = box.json("status", "--env", "production")
    return dict(rows[0])


@pytest.mark.parametrize(
    ("strategy", "replicas"),
    [
        ({"kind": "rolling"}, 3),
        ({"kind": "blue-green", "keep_warm": "0s"}, 2),
        ({"kind": "canary", "steps": [{"weight": 10}, {"pause": "1s"}, {"weight": 50},
                                      {"pause": "1s"}]}, 1),
    ],
    ids=["rolling", "blue-green", "canary"],
)
def test_zero_downtime_strategies(sandbox: Sandbox, strategy: dict[str, Any],
                                  replicas: int) -> None:
    port = setup(sandbox, strategy, replicas=replicas)
    assert deploy(sandbox, "v1").returncode == 0
    with LoadLoop(f"http://127.0.0.1:{port}/", concurrency=2, max_seconds=90) as load:
        proc = deploy(sandbox, "v2")
        summary = load.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(summary.by_status) == {200}, summary.by_status
    assert {"v1", "v2"} <= set(summary.by_version)

    status = _status(sandbox)
    assert status["live"] == "v2"
    assert status["weights"] == {"v2": 100}
    versions = [i["version"] for i in status["instances"]]
    assert versions == ["v2"] * replicas
    assert all(i["healthy"] for i in status["instances"])


def test_canary_steps_move_weights_in_order(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "canary", "steps": [{"weight": 10}, {"weight": 50}]})
    assert deploy(sandbox, "v1").returncode == 0
    proc = deploy(sandbox, "v2")
    assert proc.returncode == 0
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    routes = [s for s in run["steps"] if s["name"].startswith(("set v2", "promote"))]
    assert [s["name"] for s in routes] == ["set v2 to 10%", "set v2 to 50%",
                                           "promote v2 to 100%"]
    assert "v1 90%, v2 10%" in routes[0]["output"]
    assert "v1 50%, v2 50%" in routes[1]["output"]


def test_recreate_replaces_the_version(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "recreate"}, replicas=2)
    assert deploy(sandbox, "v1").returncode == 0
    assert deploy(sandbox, "v2").returncode == 0
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v2"
    status = _status(sandbox)
    assert [i["version"] for i in status["instances"]] == ["v2", "v2"]


def test_broken_release_is_refused_and_traffic_stays(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "1m"},
                 health={"path": "/health", "expect_json": {"status": "ok"},
                         "interval": "100ms", "retries": 10})
    sandbox.set_faults({"v2": {"health": "fail"}})
    assert deploy(sandbox, "v1").returncode == 0
    with LoadLoop(f"http://127.0.0.1:{port}/", concurrency=2, max_seconds=60) as load:
        proc = deploy(sandbox, "v2")
        summary = load.stop()
    assert proc.returncode == 1
    assert "health-check v2 failed" in proc.stdout
    assert "traffic stays on v1" in proc.stdout
    assert set(summary.by_version) == {"v1"}
    assert set(summary.by_status) == {200}
    status = _status(sandbox)
    assert status["live"] == "v1"
    assert [i["version"] for i in status["instances"]] == ["v1"]
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "failed"
    assert run["steps"][-1]["name"] == "stop v2"


def test_crash_at_start_is_reported_with_its_log(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"})
    sandbox.set_faults({"v1": {"crash_at_start": True}})
    proc = deploy(sandbox, "v1")
    assert proc.returncode == 1
    assert "process exited" in proc.stdout
    assert "exit code 3" in proc.stdout


def test_failed_post_deploy_check_rolls_back(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "5m"})
    spec = sandbox.spec_path.read_text().replace("environments:", "checks:\n  items:\n"
                                                 "    kind: http\n    path: /api/items\n"
                                                 "environments:")
    sandbox.spec_path.write_text(spec.replace("    strategy:", "    checks: [items]\n"
                                              "    strategy:"))
    assert sandbox.run("validate").returncode == 0, sandbox.run("validate").stderr
    sandbox.set_faults({"v2": {"error_rate": 1.0}})
    assert deploy(sandbox, "v1").returncode == 0
    proc = deploy(sandbox, "v2")
    assert proc.returncode == 1
    assert "rolled back to v1" in proc.stdout
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "rolled_back"
    assert "post-deploy check failed: items (GET /api/items: HTTP 500" in run["error"]
    assert _status(sandbox)["live"] == "v1"
