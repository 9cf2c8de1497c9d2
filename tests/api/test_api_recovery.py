"""The server's worker takes over runs whose process died, and retires warm instances."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

from ruamel.yaml import YAML

from tests.api.conftest import ApiServer


def test_the_server_takes_over_a_run_whose_cli_was_killed(api: ApiServer) -> None:
    api.deployed("v1")
    cli = api.box.spawn("deploy", "web", "--env", "production", "--version", "v2")
    try:
        run_id = api.box.latest_run("v2")
        # v2 needs 3 s to become healthy: kill its CLI in the middle of that.
        api.box.wait_for_step(run_id, "health-check v2", "running")
        cli.send_signal(signal.SIGKILL)
        assert cli.wait(timeout=10) == -signal.SIGKILL
    finally:
        if cli.poll() is None:
            cli.kill()
    killed_at = time.monotonic()

    run = api.wait(run_id, timeout=30)

    assert time.monotonic() - killed_at < 30
    assert run["status"] == "succeeded", run
    server = api.http.get("/api/health").json()["executor"]
    assert run["executor_id"] == server
    names = [s["name"] for s in run["steps"]]
    cut = names.index("health-check v2")
    assert [s["attempts"] for s in run["steps"][:cut]] == [1] * cut, run["steps"]
    assert run["steps"][cut]["attempts"] == 2, run["steps"]
    (web,) = api.http.get("/api/status").json()
    assert (web["live"], web["weights"]) == ("v2", {"v2": 100})


def test_a_stopped_server_hands_its_paused_run_to_the_next_one(api: ApiServer) -> None:
    api.box.write_spec({**_spec(api), "environments": {"production": {"strategy": {
        "kind": "canary", "steps": [{"weight": 50}, {"pause": "12s"}]}}}})
    api.deployed("v1")
    run_id = api.deploy("v1.1")["id"]
    api.box.wait_for_step(run_id, "pause 12s", "running")
    with ThreadPoolExecutor(1) as pool:
        stream = pool.submit(api.events, run_id)
        time.sleep(0.5)
        started = time.monotonic()
        assert api.stop() == 0
        # The first server did not wait out the pause, and said what it left behind.
        assert time.monotonic() - started < 8
        assert f"stopped driving {run_id}" in api.log()
        # Its open event stream ended cleanly, before the run did.
        events = stream.result(timeout=5)
    assert events[-1][0] == "step" and events[-1][1]["name"] == "pause 12s", events
    assert "ASGI callable returned without completing response" not in api.log()

    api.start()
    api.box.wait_for_step(run_id, "promote v1.1 to 100%", "succeeded", timeout=30)
    run = api.wait(run_id, timeout=10)
    assert run["status"] == "succeeded", run
    assert api.log().count(f"resumed run {run_id}") == 1, api.log()
    assert [s["attempts"] for s in run["steps"]] == [1] * len(run["steps"]), run["steps"]
    assert run["executor_id"] == api.http.get("/api/health").json()["executor"]


def test_the_worker_retires_expired_warm_instances(api: ApiServer) -> None:
    api.box.write_spec({**_spec(api), "environments": {"production": {"strategy": {
        "kind": "blue-green", "keep_warm": "1s"}}}})
    api.deployed("v1")
    api.deployed("v1.1")

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        versions = [i["version"] for i in api.http.get("/api/status").json()[0]["instances"]]
        if versions == ["v1.1"]:
            break
        time.sleep(0.2)
    assert versions == ["v1.1"]


def _spec(api: ApiServer) -> dict[str, object]:
    return dict(YAML(typ="safe").load(api.box.spec_path.read_text()))
