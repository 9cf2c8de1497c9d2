"""Blue-green with analysis: green judged against blue before the switch, watched after."""

from __future__ import annotations

from typing import Any

import httpx

from rollgate.demo.load import LoadLoop
from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup

ANALYSES = ("analyses:\n  golden:\n    interval: 1s\n    judge:\n      metrics:\n"
            "      - {metric: error_rate, critical: true}\n"
            "      - {metric: latency, effect_floor: 0.2, effect_floor_ms: 20}\n")


def _spec(box: Sandbox, strategy: dict[str, Any], more: str = "") -> int:
    port = setup(box, strategy)
    box.spec_path.write_text(box.spec_path.read_text() + ANALYSES + more)
    check = box.run("validate")
    assert check.returncode == 0, check.stderr
    return port


def test_slow_green_is_refused_before_the_switch(sandbox: Sandbox) -> None:
    port = _spec(sandbox, {"kind": "blue-green", "verify": "1m", "analysis": "golden",
                           "keep_warm": "0s"})
    sandbox.set_faults({"v2": {"latency_ms": 150}})
    assert deploy(sandbox, "v1").returncode == 0
    with LoadLoop(f"http://127.0.0.1:{port}/", rate=20, max_seconds=120) as load:
        proc = deploy(sandbox, "v2")
        summary = load.stop()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "failed"  # users never saw green: nothing to roll back
    assert "latency" in run["error"] and "traffic stays on v1" in run["error"]
    step = next(s for s in run["steps"] if s["name"].startswith("verify v2 against v1"))
    assert step["state"] == "failed" and step["duration_ms"] < 60_000
    assert set(summary.by_version) == {"v1"}
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"


def test_the_watch_after_the_switch_switches_back_to_blue(sandbox: Sandbox) -> None:
    # Probes hit /health, which the error fault spares: green passes before the switch,
    # then fails a third of the users' requests, and the watch catches it.
    port = _spec(sandbox, {"kind": "blue-green", "verify": "3s", "analysis": "golden",
                           "probe_path": "/health", "keep_warm": "5m",
                           "watch": {"duration": "1m", "analysis": "errors"}},
                 "  errors:\n    interval: 500ms\n    rules:\n"
                 "    - {metric: error_rate, op: '>', threshold: 0.05, window: 5s,"
                 " min_samples: 20, consecutive: 2}\n")
    sandbox.set_faults({"v2": {"error_rate": 0.3}})
    assert deploy(sandbox, "v1").returncode == 0
    with LoadLoop(f"http://127.0.0.1:{port}/", rate=50, concurrency=4, max_seconds=150):
        proc = deploy(sandbox, "v2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "rolled_back"
    names = [s["name"] for s in run["steps"]]
    assert names.index("switch traffic to v2") < names.index("watch v2 for 1m")
    assert "rollback: v2 to 0%, v1 to 100%" in names
    assert "analysis errors failed: error_rate" in run["error"]
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
    assert sandbox.json("status")[0]["live"] == "v1"
