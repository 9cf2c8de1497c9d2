"""`rollgate plan` shows the steps without touching anything, and the time to detect."""

from __future__ import annotations

from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def test_plan_lists_the_canary_steps_and_estimates_detection(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "canary", "analysis": "golden",
                    "steps": [{"weight": 10}, {"pause": "5m"}, {"weight": 50},
                              {"pause": "approval"}]})
    sandbox.spec_path.write_text(sandbox.spec_path.read_text() + (
        "analyses:\n  golden:\n    judge:\n      metrics:\n"
        "      - {metric: error_rate, critical: true}\n"))
    assert deploy(sandbox, "v1").returncode == 0

    plan = sandbox.json("plan", "web", "--env", "production", "--version", "v2")
    assert [s["name"] for s in plan["steps"]] == [
        "plan", "start v2 (replica 0)", "health-check v2", "set v2 to 10%",
        "health-check v2 at 10%", "pause 5m (analysis golden)", "set v2 to 50%",
        "health-check v2 at 50%", "wait for approval", "promote v2 to 100%", "mark v2 live",
        "stop v1",
    ]
    errors = next(e for e in plan["time_to_detect"] if e["regression"] == "5% errors")
    assert errors["weight"] == 10
    assert errors["seconds"] is not None and errors["seconds"] < 60
    # Nothing was started or routed: v1 alone serves, and no run was recorded.
    assert [i["version"] for i in sandbox.json("status")[0]["instances"]] == ["v1"]
    assert len(sandbox.json("history")) == 1
