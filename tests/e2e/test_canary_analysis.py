"""Canaries judged live against stable on the local target: a bad one is rolled back."""

from __future__ import annotations

from typing import Any

import httpx

from rollgate.demo.load import LoadLoop
from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup

GOLDEN: dict[str, Any] = {
    "interval": "1s",
    "judge": {"metrics": [{"metric": "error_rate", "critical": True},
                          {"metric": "latency", "effect_floor": 0.1}],
              "alpha": 0.01},
}


def _canary(box: Sandbox, pause: str) -> int:
    port = setup(box, {"kind": "canary", "analysis": "golden",
                       "steps": [{"weight": 20}, {"pause": pause}, {"weight": 50},
                                 {"pause": pause}]})
    text = box.spec_path.read_text()
    box.spec_path.write_text(text + "analyses:\n  golden:\n    interval: 1s\n    judge:\n"
                             "      metrics:\n      - {metric: error_rate, critical: true}\n"
                             "      - {metric: latency, effect_floor: 0.1}\n"
                             "      alpha: 0.01\n")
    assert box.run("validate").returncode == 0, box.run("validate").stderr
    return port


def test_bad_canary_is_caught_and_rolled_back(sandbox: Sandbox) -> None:
    port = _canary(sandbox, "2m")
    sandbox.set_faults({"v2": {"error_rate": 0.2}})
    assert deploy(sandbox, "v1").returncode == 0
    with LoadLoop(f"http://127.0.0.1:{port}/", rate=100, concurrency=4, max_seconds=150):
        proc = deploy(sandbox, "v2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "rolled_back"
    assert "analysis golden failed: error_rate" in run["error"]
    pause = next(s for s in run["steps"] if s["name"].startswith("pause 2m"))
    assert pause["state"] == "failed"
    assert pause["duration_ms"] < 60_000  # caught long before the pause would have ended
    names = [s["name"] for s in run["steps"]]
    assert "rollback: v2 to 0%, v1 to 100%" in names
    failing = [c for c in run["checks"] if c["verdict"] == "fail"]
    assert failing and failing[0]["metric"] == "error_rate"
    assert failing[0]["baseline"] is not None and failing[0]["samples"] > 0
    assert failing[0]["summary"] in run["error"]
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
    shown = sandbox.run("runs", "show", sandbox.latest_run("v2"))
    assert "analysis" in shown.stdout and "fail" in shown.stdout


def test_good_canary_is_promoted(sandbox: Sandbox) -> None:
    port = _canary(sandbox, "6s")
    assert deploy(sandbox, "v1").returncode == 0
    with LoadLoop(f"http://127.0.0.1:{port}/", rate=100, concurrency=4, max_seconds=90) as load:
        proc = deploy(sandbox, "v2")
        summary = load.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(summary.by_status) == {200}
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "succeeded"
    assert run["checks"] and all(c["verdict"] != "fail" for c in run["checks"])
    assert sandbox.json("status")[0]["weights"] == {"v2": 100}


def test_seed_003_health_preset_rolls_back_a_canary_that_turns_unhealthy(
        sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "canary", "analysis": "seed-003",
                           "steps": [{"weight": 50}, {"pause": "2m"}]})
    sandbox.spec_path.write_text(
        sandbox.spec_path.read_text()
        + "analyses:\n  seed-003:\n    interval: 500ms\n    rules:\n"
          "    - preset: health-3-consecutive\n    - preset: error-rate-10pct-5m\n")
    assert deploy(sandbox, "v1").returncode == 0
    proc = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v2")
    run_id = sandbox.latest_run("v2")
    sandbox.wait_for_step(run_id, "pause 2m (analysis seed-003)")
    sandbox.set_faults({"v2": {"health": "fail"}})
    assert proc.wait(timeout=90) == 1
    run = sandbox.json("runs", "show", run_id)
    assert run["status"] == "rolled_back"
    assert "health" in run["error"]
    assert any(c["kind"] == "health" and c["verdict"] == "fail" for c in run["checks"])
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"


def _starved(box: Sandbox, action: str) -> None:
    """An analysis that can never get enough samples: always inconclusive."""
    setup(box, {"kind": "canary", "analysis": "starved",
                "steps": [{"weight": 50}, {"pause": "20s"}]})
    box.spec_path.write_text(box.spec_path.read_text() + (
        "analyses:\n  starved:\n    interval: 200ms\n    rules:\n"
        "    - {metric: error_rate, op: '>', threshold: 0.5, min_samples: 1000000}\n"
        f"    inconclusive: {{limit: 3, action: {action}}}\n"))


def test_inconclusive_pause_waits_for_a_person(sandbox: Sandbox) -> None:
    _starved(sandbox, "pause")
    assert deploy(sandbox, "v1").returncode == 0
    proc = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v2")
    run_id = sandbox.latest_run("v2")
    sandbox.wait_for_step(run_id, "wait for approval (analysis starved inconclusive)")
    assert sandbox.run("approve", run_id, "--comment", "low traffic, fine").returncode == 0
    assert proc.wait(timeout=60) == 0
    run = sandbox.json("runs", "show", run_id)
    assert any(c["verdict"] == "inconclusive" for c in run["checks"])


def test_inconclusive_fail_rolls_back(sandbox: Sandbox) -> None:
    _starved(sandbox, "fail")
    assert deploy(sandbox, "v1").returncode == 0
    proc = deploy(sandbox, "v2")
    assert proc.returncode == 1
    run = sandbox.json("runs", "show", sandbox.latest_run("v2"))
    assert run["status"] == "rolled_back"
    assert "inconclusive for 3 evaluations" in run["error"]
