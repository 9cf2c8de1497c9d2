"""The demo service and the load loop, as real processes over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rollgate.demo.faults import FAULTS_ENV, Faults, FaultsFile, faults_for, write_faults
from rollgate.demo.load import LoadLoop
from rollgate.demo.process import DemoProcess, start_demo
from rollgate.errors import TargetError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoProcess]:
    process = start_demo("v1")
    yield process
    process.stop()


@pytest.fixture
def http(demo: DemoProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.url, trust_env=False, timeout=10) as client:
        yield client


def eventually(check: Callable[[], bool], within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_endpoints(http: httpx.Client) -> None:
    assert http.get("/health").json() == {"status": "ok", "version": "v1"}
    assert http.get("/version").json() == {"version": "v1"}
    assert "v1" in http.get("/").json()["message"]
    created = http.post("/api/items", json={"name": "apple"})
    assert created.status_code == 201
    assert created.json()["name"] == "apple"
    assert created.json() in http.get("/api/items").json()["items"]
    assert http.post("/api/items", content=b"not json").status_code == 400
    started = time.monotonic()
    assert http.get("/api/slow", params={"ms": 200}).json()["slept_ms"] == 200
    assert time.monotonic() - started >= 0.2
    assert http.get("/api/slow", params={"ms": "-1"}).status_code == 400


def test_faults_switch_live(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {})
    process = start_demo("v3", faults=faults)
    try:
        with httpx.Client(base_url=process.url, trust_env=False, timeout=10) as http:
            assert http.get("/health").status_code == 200

            write_faults(faults, {"v3": {"health": "fail"}, "v4": {"error_rate": 1.0}})
            assert eventually(lambda: http.get("/health").status_code == 503)
            assert http.get("/health").json() == {"status": "failing"}
            assert http.get("/").status_code == 200  # v4's fault is not ours

            write_faults(faults, {"*": {"error_rate": 1.0}})
            assert eventually(lambda: http.get("/").status_code == 500)
            assert http.get("/").json()["error"] == "injected fault"
            assert http.get("/health").status_code == 200  # /health is exempt

            write_faults(faults, {"*": {"latency_ms": 150}, "v3": {"error_rate": 0}})
            assert eventually(lambda: http.get("/").elapsed.total_seconds() >= 0.15)
            assert http.get("/").status_code == 200

            faults.unlink()
            assert eventually(lambda: http.get("/").elapsed.total_seconds() < 0.1)
    finally:
        assert process.stop() == 0


def test_error_rate_is_roughly_the_share_of_errors(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"v5": {"error_rate": 0.2}})
    process = start_demo("v5", faults=faults)
    try:
        with httpx.Client(base_url=process.url, trust_env=False) as http:
            errors = sum(http.get("/version").status_code == 500 for _ in range(500))
    finally:
        process.stop()
    assert 60 < errors < 140  # Binomial(500, 0.2): mean 100, sd ~9


def test_crash_at_start_exits_3_with_a_message(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"v6": {"crash_at_start": True}})
    result = subprocess.run(
        [sys.executable, "-m", "rollgate.demo", "serve", "--port", "0", "--version", "v6"],
        env={**os.environ, FAULTS_ENV: str(faults)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "crash_at_start" in result.stderr
    with pytest.raises(TargetError, match="did not start"):
        start_demo("v6", faults=faults)


def test_start_delay_postpones_listening(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"*": {"start_delay": 0.8}})
    started = time.monotonic()
    process = start_demo("v7", faults=faults)
    try:
        assert time.monotonic() - started >= 0.8
    finally:
        process.stop()


def test_sigterm_finishes_in_flight_requests() -> None:
    process = start_demo("v8")
    answers: dict[str, httpx.Response] = {}
    url = f"{process.url}/api/slow?ms=700"
    thread = threading.Thread(target=lambda: answers.update(r=httpx.get(url, trust_env=False)))
    thread.start()
    time.sleep(0.3)
    assert process.stop() == 0
    thread.join()
    assert answers["r"].status_code == 200


def test_bad_faults_are_refused() -> None:
    assert faults_for({"*": {"latency_ms": 5}, "v1": {"latency_ms": 9}}, "v1").latency_ms == 9
    assert faults_for({}, "v1") == Faults()
    for bad in ({"v1": {"error_rate": 2}}, {"v1": {"health": "meh"}}, {"*": {"nope": 1}}):
        with pytest.raises(ValueError):
            faults_for(bad, "v1")


def test_a_broken_faults_file_keeps_the_previous_faults(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    clock = [0.0]
    source = FaultsFile(path, "v1", clock=lambda: clock[0])
    write_faults(path, {"v1": {"health": "fail"}})
    assert source.current().health == "fail"
    path.write_text("{ not json")
    clock[0] += 0.2
    assert source.current().health == "fail"  # not re-checked within 0.5 s
    clock[0] += 0.5
    assert source.current().health == "fail"  # re-read, ignored as broken


def test_load_loop_stops_at_max_requests(http: httpx.Client, demo: DemoProcess) -> None:
    load = LoadLoop(f"{demo.url}/version", concurrency=3, max_requests=120).start()
    summary = load.wait(timeout=20)
    assert not load.running
    assert summary.total == 120
    assert summary.by_status == {200: 120}
    assert summary.by_version == {"": 120}  # no proxy in front, so no version header
    assert summary.errors == 0


def test_load_loop_stops_by_itself_and_paces_to_a_rate(demo: DemoProcess) -> None:
    started = time.monotonic()
    with LoadLoop(f"{demo.url}/", rate=50, max_seconds=1.0) as load:
        load.wait(timeout=10)
    assert time.monotonic() - started < 3
    assert 40 <= load.summary().total <= 51


def test_load_loop_records_connection_errors_as_status_0() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    summary = LoadLoop(f"http://127.0.0.1:{port}/", max_requests=5).start().wait(timeout=10)
    assert summary.by_status == {0: 5}
    assert summary.errors == 5
