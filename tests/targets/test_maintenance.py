"""Maintenance mode of the local proxy: a real proxy process, real backends, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from rollgate.demo.load import MAINTENANCE, LoadLoop
from rollgate.demo.process import DemoProcess
from rollgate.errors import TargetError, UsageError
from rollgate.spec.loader import load_spec
from rollgate.targets.local.processes import free_port
from rollgate.targets.local.proxy_client import (
    Backend,
    ProxyClient,
    ProxyInfo,
    start_proxy,
    stop_proxy,
)
from rollgate.targets.local.proxy_maintenance import MAX_MESSAGE_CHARS, Maintenance
from rollgate.targets.local.proxy_state import ProxyState, read_state, write_state
from rollgate.targets.local.target import LocalTarget
from rollgate.testing.sandbox import Sandbox, demo_service

pytestmark = pytest.mark.timeout(60)

MESSAGE = "The database is being restored; back in a few minutes."


def assert_maintenance_answer(response: httpx.Response, message: str = MESSAGE) -> None:
    """The 503 the proxy gives itself in maintenance mode, with no version involved."""
    assert response.status_code == 503
    assert response.json() == {"error": "maintenance", "message": message}
    assert response.headers["Retry-After"] == "30"
    assert response.headers["X-Rollgate-Maintenance"] == "1"
    assert "X-Rollgate-Version" not in response.headers


def metric(text: str, name: str) -> float:
    """The value of one unlabelled sample in a Prometheus exposition."""
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the metrics:\n{text}")


def test_maintenance_answers_every_request_then_traffic_resumes(
    admin: ProxyClient, proxy: ProxyInfo, http: httpx.Client, v1: DemoProcess
) -> None:
    admin.set_routes([Backend("v1", v1.url, 100)])
    assert admin.maintenance() is None
    slow: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: slow.update(r=http.get("/api/slow?ms=800")))
    thread.start()
    time.sleep(0.2)  # forwarded before maintenance: it must finish normally
    direct_503 = direct_200 = 0
    with LoadLoop(f"http://{proxy.listen}/version", concurrency=4, max_seconds=15) as load:
        time.sleep(0.4)
        before = time.time()
        admin.set_maintenance(MESSAGE)
        on_done = time.monotonic()
        time.sleep(0.5)
        state = admin.maintenance()
        assert state is not None and state["message"] == MESSAGE
        assert before <= state["since"] <= time.time()
        for method, path in (("POST", "/api/items"), ("DELETE", "/any/path?q=1"), ("GET", "/")):
            assert_maintenance_answer(http.request(method, path, json={"name": "x"}))
            direct_503 += 1
        assert metric(admin.metrics_text(), "rollgate_proxy_maintenance") == 1.0
        off_sent = time.monotonic()
        admin.clear_maintenance()
        off_done = time.monotonic()
        time.sleep(1.0)
    thread.join()
    assert slow["r"].status_code == 200 and slow["r"].json()["version"] == "v1"
    assert admin.maintenance() is None
    after = http.get("/version")
    direct_200 += 1
    assert after.status_code == 200 and after.json() == {"version": "v1"}

    summary = load.summary()
    assert set(summary.by_version_status) == {"v1", MAINTENANCE}, summary.by_version_status
    assert set(summary.by_version_status["v1"]) == {200}  # never a 502, 500 or refused
    assert set(summary.by_version_status[MAINTENANCE]) == {503}
    served, answered = summary.by_version_status["v1"][200], summary.maintenance
    assert summary.unexpected == 0
    assert served > 0 and answered > 0
    samples = load.samples()
    during = [s.status for s in samples if on_done + 0.3 < s.at < off_sent]
    assert during and set(during) == {503}
    resumed = [s.status for s in samples if s.at > off_done + 0.3]
    assert resumed and set(resumed) == {200}

    stats = admin.stats(window=60)
    assert stats["maintenance"] == answered + direct_503
    for section in ("versions", "since_start"):
        row = stats[section]["v1"]
        assert row["requests"] == served + 1 + direct_200  # + the slow request
        assert row["5xx"] == row["upstream_errors"] == 0
        assert row["error_rate"] == 0.0
    metrics = admin.metrics_text()
    assert metric(metrics, "rollgate_proxy_maintenance") == 0.0
    total = metric(metrics, "rollgate_proxy_maintenance_responses_total")
    assert total == answered + direct_503
    assert 'rollgate_proxy_requests_total{code="5xx",version="v1"} 0.0' in metrics


def test_maintenance_touches_no_backend(admin: ProxyClient, http: httpx.Client) -> None:
    admin.set_maintenance(MESSAGE)
    assert_maintenance_answer(http.get("/"))  # even with no routes at all
    gone = f"http://127.0.0.1:{free_port()}"
    admin.set_routes([Backend("gone", gone, 100)])
    assert_maintenance_answer(http.get("/"))
    # A body nobody reads does not break the connection for the next request.
    assert_maintenance_answer(http.post("/upload", content=os.urandom(300_000)))
    assert_maintenance_answer(http.put("/upload", content=b"x"))
    row = admin.stats()["since_start"]["gone"]
    assert row["requests"] == row["upstream_errors"] == 0
    assert admin.stats()["maintenance"] == 4

    admin.clear_maintenance()
    assert http.get("/").status_code == 502  # the dead backend is reached again


def test_changing_the_message_keeps_since_and_clearing_twice_is_fine(
    admin: ProxyClient, http: httpx.Client
) -> None:
    admin.set_maintenance("first")
    first = admin.maintenance()
    admin.set_maintenance("second")
    second = admin.maintenance()
    assert first is not None and second is not None
    assert second == {"message": "second", "since": first["since"]}
    assert_maintenance_answer(http.get("/"), "second")
    admin.clear_maintenance()
    admin.clear_maintenance()
    assert admin.maintenance() is None
    assert http.get("/").json()["error"] == "no backend"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b'"restoring"', "JSON object"),
        (b"{}", "message is required"),
        (b'{"message": ""}', "must not be empty"),
        (b'{"message": "   "}', "must not be empty"),
        (b'{"message": 42}', "must be a string"),
        (b'{"message": null}', "must be a string"),
        (json.dumps({"message": "x" * (MAX_MESSAGE_CHARS + 1)}).encode(), "at most 500"),
        (b'{"message": "ok", "retry_after": 60}', "'retry_after'"),
    ],
)
def test_bad_maintenance_bodies_are_refused(
    admin: ProxyClient, http: httpx.Client, body: bytes, reason: str
) -> None:
    response = httpx.put(f"{admin.admin_url}/maintenance", content=body, trust_env=False)
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert admin.maintenance() is None
    assert http.get("/").json()["error"] == "no backend"


def test_the_client_reports_a_refused_message(admin: ProxyClient) -> None:
    with pytest.raises(TargetError, match="refused PUT /maintenance: message must not be empty"):
        admin.set_maintenance("")
    admin.set_maintenance("x" * MAX_MESSAGE_CHARS)  # the limit itself is fine
    state = admin.maintenance()
    assert state is not None and len(state["message"]) == MAX_MESSAGE_CHARS


def test_a_restarted_proxy_comes_back_in_maintenance(tmp_path: Path, v1: DemoProcess) -> None:
    state, log = tmp_path / "proxy.json", tmp_path / "proxy.log"
    first = start_proxy("127.0.0.1:0", state, log)
    with ProxyClient(first.admin_url) as admin:
        admin.set_routes([Backend("v1", v1.url, 100)])
        admin.set_maintenance(MESSAGE)
        before = admin.maintenance()
    os.kill(first.pid, signal.SIGKILL)  # no chance to write anything on the way out
    stop_proxy(first.pid)  # reaps it
    assert json.loads(state.read_text())["maintenance"] == before

    again = start_proxy(first.listen, state, log)
    try:
        assert again.pid != first.pid and again.listen == first.listen
        public = f"http://{again.listen}/version"
        with ProxyClient(again.admin_url) as admin:
            assert admin.maintenance() == before
            assert_maintenance_answer(httpx.get(public, trust_env=False))
            assert metric(admin.metrics_text(), "rollgate_proxy_maintenance") == 1.0
            admin.clear_maintenance()
            assert httpx.get(public, trust_env=False).json() == {"version": "v1"}
    finally:
        stop_proxy(again.pid)

    third = start_proxy(first.listen, state, log)
    try:
        with ProxyClient(third.admin_url) as admin:
            assert admin.maintenance() is None
        assert httpx.get(f"http://{third.listen}/version", trust_env=False).status_code == 200
    finally:
        stop_proxy(third.pid)
    assert "resuming in maintenance mode" in log.read_text()


def test_state_files_without_maintenance_still_read(tmp_path: Path) -> None:
    path = tmp_path / "proxy.json"
    old = {"pid": 1, "listen": "127.0.0.1:1", "admin": "127.0.0.1:2", "backends": []}
    path.write_text(json.dumps(old))
    recorded = read_state(path)
    assert recorded is not None and recorded.maintenance is None

    on = Maintenance(message=MESSAGE, since=1_700_000_000.5)
    write_state(path, ProxyState(pid=1, listen="127.0.0.1:1", admin="127.0.0.1:2", maintenance=on))
    recorded = read_state(path)
    assert recorded is not None and recorded.maintenance == on

    for bad in ({"message": "", "since": 1.0}, {"message": "x"}, "on"):
        path.write_text(json.dumps({**old, "maintenance": bad}))
        with pytest.raises(ValueError, match="unusable"):
            read_state(path)


def test_local_target_switches_maintenance(sandbox: Sandbox) -> None:
    sandbox.write_spec({
        "project": "t",
        "services": {"web": demo_service(free_port(), sandbox.faults_path)},
        "environments": {"production": {"strategy": {"kind": "blue-green"}}},
    })  # fmt: skip
    db = sandbox.store()
    db.migrate()
    target = LocalTarget(
        spec=load_spec(sandbox.spec_path), spec_dir=sandbox.root, service="web",
        environment="production", db=db, state_dir=sandbox.state_dir,
    )  # fmt: skip
    try:
        assert target.maintenance() is None  # no proxy runs
        with pytest.raises(UsageError, match="maintenance message must not be empty"):
            target.set_maintenance(" ")
        assert not target.proxy_running()  # a bad message starts nothing

        target.set_maintenance(MESSAGE)  # starts the proxy first
        assert target.proxy_running()
        state = target.maintenance()
        assert state is not None and state["message"] == MESSAGE
        assert_maintenance_answer(httpx.get(target.public_url, trust_env=False))

        target.set_maintenance(None)
        assert target.maintenance() is None
        assert httpx.get(target.public_url, trust_env=False).json()["error"] == "no backend"
    finally:
        target.stop_router()
    assert target.maintenance() is None
