"""The local proxy, driven as a real detached process over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from rollgate.demo.faults import write_faults
from rollgate.demo.load import LoadLoop
from rollgate.demo.process import DemoProcess, start_demo
from rollgate.errors import TargetError
from rollgate.targets.local.proxy_client import (
    Backend,
    ProxyClient,
    ProxyInfo,
    find_proxy,
    start_proxy,
    stop_proxy,
)
from rollgate.targets.local.proxy_stats import (
    ProxyStats,
    bucket_upper_ms,
    latency_bucket,
    percentiles,
)

pytestmark = pytest.mark.timeout(60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dead_url() -> str:
    """A loopback URL nothing listens on: connecting to it is refused."""
    return f"http://127.0.0.1:{free_port()}"


def test_ready_proxy_reports_health_and_writes_state(
    proxy: ProxyInfo, admin: ProxyClient, tmp_path: Path
) -> None:
    health = admin.health()
    assert health["status"] == "ok"
    assert health["pid"] == proxy.pid
    assert health["listen"] == proxy.listen
    assert proxy.admin_url == f"http://{health['admin']}"
    state = json.loads((tmp_path / "proxy.json").read_text())
    assert state["pid"] == proxy.pid and state["listen"] == proxy.listen
    assert state["backends"] == []
    assert '"event": "ready"' in (tmp_path / "proxy.log").read_text()


def test_no_backend_answers_503(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 503
    assert response.json()["error"] == "no backend"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"backends": [{"version": "v1", "url": "ftp://x", "weight": 1}]}, "http://"),
        ({"backends": [{"version": "v1", "url": "http://127.0.0.1:1", "weight": -1}]}, ">= 0"),
        ({"backends": [{"version": "v1", "url": "http://127.0.0.1:1", "weight": 1.5}]}, "integer"),
        ({"backends": [{"version": "v1", "url": "http://127.0.0.1:1", "weigth": 1}]}, "weigth"),
        ({"routes": []}, "backends"),
    ],
)
def test_invalid_routes_are_refused_and_leave_the_table_alone(
    admin: ProxyClient, v1: DemoProcess, body: object, reason: str
) -> None:
    admin.set_routes([Backend("v1", v1.url, 1)])
    response = httpx.put(f"{admin.admin_url}/routes", json=body, trust_env=False)
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert admin.routes() == [Backend("v1", v1.url, 1)]


def test_client_errors_say_what_to_do() -> None:
    with pytest.raises(TargetError, match="check that the proxy process is running"):
        ProxyClient(dead_url()).health()


def test_weighted_split_follows_the_weights(
    admin: ProxyClient, http: httpx.Client, v1: DemoProcess, v2: DemoProcess
) -> None:
    admin.set_routes(
        [Backend("v1", v1.url, 90), Backend("v2", v2.url, 10), Backend("v0", dead_url(), 0)]
    )
    served = Counter(http.get("/version").headers["X-Rollgate-Version"] for _ in range(1000))
    # Binomial(1000, 0.1) has a standard deviation of ~9.5: 40 is over four of them.
    assert abs(served["v2"] - 100) < 40
    assert served["v1"] + served["v2"] == 1000


def test_routes_are_replaced_atomically_and_in_flight_requests_finish(
    admin: ProxyClient, proxy: ProxyInfo, http: httpx.Client, v1: DemoProcess, v2: DemoProcess
) -> None:
    admin.set_routes([Backend("v1", v1.url, 100)])
    slow: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: slow.update(r=http.get("/api/slow?ms=600")))
    thread.start()
    time.sleep(0.2)
    admin.set_routes([Backend("v2", v2.url, 100)])
    assert {http.get("/version").json()["version"] for _ in range(50)} == {"v2"}
    thread.join()
    assert slow["r"].status_code == 200
    assert slow["r"].json()["version"] == "v1"
    assert slow["r"].headers["X-Rollgate-Version"] == "v1"

    tables = [[Backend("v1", v1.url, 100)], [Backend("v2", v2.url, 100)]]
    with LoadLoop(f"http://{proxy.listen}/version", concurrency=4, max_seconds=10) as load:
        for i in range(20):
            admin.set_routes(tables[i % 2])
            time.sleep(0.02)
    summary = load.summary()
    assert summary.errors == 0
    assert set(summary.by_version) == {"v1", "v2"}


def test_removing_a_backend_under_load_costs_no_client_errors(
    admin: ProxyClient, proxy: ProxyInfo, v2: DemoProcess
) -> None:
    old = start_demo("v1")
    admin.set_routes([Backend("v1", old.url, 50), Backend("v2", v2.url, 50)])
    with LoadLoop(f"http://{proxy.listen}/", concurrency=4, max_seconds=15) as load:
        time.sleep(0.7)
        admin.set_routes([Backend("v2", v2.url, 100)])
        assert old.stop() == 0
        time.sleep(0.7)
    summary = load.summary()
    assert summary.errors == 0, summary.by_status
    assert summary.by_version["v1"] > 0 and summary.by_version["v2"] > 0


def test_a_backend_that_goes_away_while_routed_costs_no_client_errors(
    admin: ProxyClient, proxy: ProxyInfo, v2: DemoProcess
) -> None:
    doomed = start_demo("v1")
    admin.set_routes([Backend("v1", doomed.url, 50), Backend("v2", v2.url, 50)])
    with LoadLoop(f"http://{proxy.listen}/", concurrency=4, max_seconds=15) as load:
        time.sleep(0.5)
        doomed.stop()  # still in the table: its refused connections are retried on v2
        time.sleep(0.7)
    summary = load.summary()
    assert summary.errors == 0, summary.by_status
    assert admin.stats()["since_start"]["v1"]["upstream_errors"] > 0


def test_connection_refused_is_retried_on_another_backend(
    admin: ProxyClient, http: httpx.Client, v2: DemoProcess
) -> None:
    admin.set_routes([Backend("gone", dead_url(), 50), Backend("v2", v2.url, 50)])
    responses = [http.get("/version") for _ in range(100)]
    assert {r.status_code for r in responses} == {200}
    assert {r.headers["X-Rollgate-Version"] for r in responses} == {"v2"}
    gone = admin.stats()["since_start"]["gone"]
    assert gone["5xx"] == gone["upstream_errors"] == gone["requests"] > 10
    assert gone["error_rate"] == 1.0

    admin.set_routes([Backend("gone", dead_url(), 100)])
    response = http.get("/version")
    assert response.status_code == 502
    assert response.json()["error"] == "bad gateway"


def test_stats_and_metrics_count_what_clients_saw(
    admin: ProxyClient, proxy: ProxyInfo, v1: DemoProcess, tmp_path: Path
) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"v3": {"error_rate": 0.5}})
    v3 = start_demo("v3", faults=faults)
    try:
        admin.set_routes([Backend("v1", v1.url, 50), Backend("v3", v3.url, 50)])
        load = LoadLoop(f"http://{proxy.listen}/", concurrency=4, max_requests=400).start()
        summary = load.wait(timeout=30)
    finally:
        v3.stop()
    assert summary.total == 400
    seen = {
        version: Counter({f"{status // 100}xx": n for status, n in by_status.items()})
        for version, by_status in summary.by_version_status.items()
    }
    assert seen["v3"]["5xx"] > 40  # the fault fired (mean 100)
    stats = admin.stats(window=60)
    metrics = admin.metrics_text()
    for version in ("v1", "v3"):
        for section in ("versions", "since_start"):
            row = stats[section][version]
            assert row["requests"] == sum(seen[version].values())
            for code in ("2xx", "3xx", "4xx", "5xx"):
                assert row[code] == seen[version][code]
            assert row["error_rate"] == pytest.approx(seen[version]["5xx"] / row["requests"])
            assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
        for code in ("2xx", "5xx"):
            line = f'rollgate_proxy_requests_total{{code="{code}",version="{version}"}}'
            assert f"{line} {float(seen[version][code])}" in metrics
        count = f'rollgate_proxy_request_duration_seconds_count{{version="{version}"}}'
        assert f"{count} {float(sum(seen[version].values()))}" in metrics
    assert f'rollgate_proxy_backend_weight{{url="{v1.url}",version="v1"}} 50.0' in metrics


def test_bodies_and_headers_are_relayed(admin: ProxyClient, http: httpx.Client) -> None:
    with _EchoServer() as echo:
        admin.set_routes([Backend("echo", echo.url, 1)])
        payload = os.urandom(300_000)
        response = http.post(
            "/echo?x=1",
            content=payload,
            headers={"Connection": "keep-alive, X-Private", "X-Private": "1", "X-Keep": "yes"},
        )
        assert response.status_code == 200
        seen = response.json()
        assert seen["path_qs"] == "/echo?x=1"
        assert seen["length"] == len(payload)
        assert seen["headers"]["X-Keep"] == "yes"
        assert "X-Private" not in seen["headers"]
        assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
        assert seen["headers"]["X-Forwarded-Proto"] == "http"
        assert seen["headers"]["X-Forwarded-Host"] == http.base_url.netloc.decode()

        big = http.get("/big")
        assert big.status_code == 200
        assert big.content == _EchoServer.BIG
        assert big.headers["X-Rollgate-Version"] == "echo"
        assert "X-Hop" not in big.headers


def test_state_file_restores_routes_after_a_restart(
    tmp_path: Path, v1: DemoProcess, v2: DemoProcess
) -> None:
    state, log = tmp_path / "proxy.json", tmp_path / "proxy.log"
    first = start_proxy("127.0.0.1:0", state, log)
    backends = [Backend("v1", v1.url, 30), Backend("v2", v2.url, 70)]
    with ProxyClient(first.admin_url) as admin:
        admin.set_routes(backends)
    assert find_proxy(state) == first
    stop_proxy(first.pid)
    assert find_proxy(state) is None
    again = start_proxy(first.listen, state, log)
    try:
        assert again.pid != first.pid and again.listen == first.listen
        with ProxyClient(again.admin_url) as admin:
            assert admin.routes() == backends
        response = httpx.get(f"http://{again.listen}/version", trust_env=False)
        assert response.status_code == 200
    finally:
        stop_proxy(again.pid)


def test_a_proxy_that_cannot_listen_fails_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(TargetError, match="cannot listen on"):
            start_proxy(address, tmp_path / "proxy.json", tmp_path / "proxy.log")


def test_the_proxy_survives_its_parent_being_killed(tmp_path: Path, v1: DemoProcess) -> None:
    script = (
        "import json, sys, time; from pathlib import Path;"
        "from rollgate.targets.local.launcher import start_proxy;"
        "info = start_proxy('127.0.0.1:0', Path(sys.argv[1]), Path(sys.argv[2]));"
        "print(json.dumps(info.__dict__), flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "p.json"), str(tmp_path / "p.log")],
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    info = ProxyInfo(**json.loads(parent.stdout.readline()))
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        time.sleep(0.3)
        with ProxyClient(info.admin_url) as admin:
            assert admin.health()["pid"] == info.pid
            admin.set_routes([Backend("v1", v1.url, 1)])
        assert httpx.get(f"http://{info.listen}/", trust_env=False).status_code == 200
    finally:
        stop_proxy(info.pid)
        parent.stdout.close()


def test_sigterm_drains_in_flight_requests(
    admin: ProxyClient, proxy: ProxyInfo, http: httpx.Client, v1: DemoProcess
) -> None:
    admin.set_routes([Backend("v1", v1.url, 1)])
    slow: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: slow.update(r=http.get("/api/slow?ms=800")))
    thread.start()
    time.sleep(0.3)
    os.kill(proxy.pid, signal.SIGTERM)
    thread.join()
    assert slow["r"].status_code == 200
    stop_proxy(proxy.pid)  # waits for the exit
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{proxy.listen}/", trust_env=False)


def test_stats_window_and_percentiles() -> None:
    stats = ProxyStats()
    for i in range(1, 1001):
        stats.record("v1", 200 if i % 10 else 503, i / 1000.0, now=100.2)
    stats.record("v1", 404, 0.5, now=150.0)
    recent = stats.summary(window=10, now=150.5, known=("v2",))
    assert recent["versions"]["v1"]["requests"] == 1
    assert recent["versions"]["v1"]["4xx"] == 1
    assert recent["versions"]["v2"] == {
        "requests": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "upstream_errors": 0,
        "error_rate": None, "p50_ms": None, "p95_ms": None, "p99_ms": None,
        "errors": 0, "histogram": [],
    }  # fmt: skip
    total = recent["since_start"]["v1"]
    assert total["requests"] == 1001 and total["5xx"] == 100
    assert total["p50_ms"] == pytest.approx(500.0, rel=0.02)
    assert total["p99_ms"] == pytest.approx(990.0, rel=0.02)
    wide = stats.summary(window=60, now=150.5)["versions"]["v1"]
    assert wide["requests"] == 1001
    # A slot from an hour ago is reused, not summed in.
    stats.record("v1", 200, 0.001, now=100.2 + 3600)
    assert stats.summary(window=3600, now=3700.5)["versions"]["v1"]["requests"] == 2


def test_latency_buckets_are_within_two_percent() -> None:
    for ms in (0.05, 0.3, 1.0, 7.7, 42.0, 250.0, 3000.0, 9999.0):
        (value,) = percentiles({latency_bucket(ms / 1000): 1}, 1, (0.5,))
        assert value * 1000 == pytest.approx(ms, rel=0.02)


def test_stats_histogram_places_each_latency_under_its_bucket_bound() -> None:
    stats = ProxyStats()
    latencies_ms = (0.004, 0.05, 1.0, 7.7, 42.0, 150.0, 250.0, 3000.0, 90_000.0)
    for ms in latencies_ms:
        stats.record("v1", 200, ms / 1000, now=10.5)
    stats.record("v1", 502, 0.5, now=10.5, upstream_error=True)
    stats.record("v1", 503, 500.0, now=10.5)  # beyond the last bound: the open bucket
    row = stats.summary(window=5, now=10.9)["versions"]["v1"]
    assert row["errors"] == row["5xx"] == 2
    pairs = row["histogram"]
    assert sum(count for _, count in pairs) == row["requests"] == len(latencies_ms) + 2
    assert pairs[-1] == (None, 1)
    bounds = [bound for bound, _ in pairs[:-1]]
    assert bounds == sorted(bounds)
    for ms in latencies_ms:
        bound = bucket_upper_ms(latency_bucket(ms / 1000))
        assert bound is not None
        assert ms <= bound * (1 + 1e-6)
        assert bound / 1.04 < ms * (1 + 1e-6) or bound == 0.01  # the first bucket starts at 0
        assert any(b == bound for b in bounds)


def test_stats_histogram_counts_add_up_and_hold_the_injected_latency(
    admin: ProxyClient, proxy: ProxyInfo, v1: DemoProcess, tmp_path: Path
) -> None:
    faults = tmp_path / "faults.json"
    write_faults(faults, {"v3": {"latency_ms": 120, "error_rate": 0.2}})
    v3 = start_demo("v3", faults=faults)
    try:
        admin.set_routes(
            [Backend("v1", v1.url, 45), Backend("v3", v3.url, 45), Backend("gone", dead_url(), 10)]
        )
        load = LoadLoop(f"http://{proxy.listen}/", concurrency=8, max_requests=400).start()
        summary = load.wait(timeout=30)
    finally:
        v3.stop()
    assert summary.total == 400
    stats = admin.stats(window=60, histogram=True)
    rows = stats["versions"]
    for version in ("v1", "v3"):
        row = rows[version]
        seen = summary.by_version_status[version]
        assert row["requests"] == sum(seen.values())
        assert sum(count for _, count in row["histogram"]) == row["requests"]
        assert row["errors"] == row["5xx"] == seen.get(500, 0)
    # Refused connections to "gone" were retried elsewhere: the clients saw no error, but
    # "gone" answered nothing but 5xx, and its histogram holds every failed attempt.
    gone = rows["gone"]
    assert gone["errors"] == gone["upstream_errors"] == gone["requests"] > 0
    assert sum(count for _, count in gone["histogram"]) == gone["requests"]
    assert summary.errors == rows["v3"]["errors"] > 0

    slow = dict(rows["v3"]["histogram"])
    assert min(slow) >= 120  # every request slept 120 ms before it was answered
    assert sum(n for bound, n in slow.items() if bound <= 240) >= 0.9 * rows["v3"]["requests"]
    fast = dict(rows["v1"]["histogram"])
    assert sum(n for bound, n in fast.items() if bound < 120) >= 0.9 * rows["v1"]["requests"]

    plain = admin.stats(window=60)
    assert "histogram" not in plain["versions"]["v1"] and "errors" not in plain["versions"]["v1"]
    assert plain["versions"]["v1"] == {
        k: v for k, v in rows["v1"].items() if k not in ("histogram", "errors")
    }
    assert "histogram" not in stats["since_start"]["v1"]


def test_stats_refuses_a_histogram_flag_it_cannot_read(admin: ProxyClient) -> None:
    response = httpx.get(f"{admin.admin_url}/stats?histogram=yes", trust_env=False)
    assert response.status_code == 400
    assert "histogram must be 1 or 0" in response.json()["detail"]


def test_metrics_show_a_routed_version_at_zero_before_its_first_request(
    admin: ProxyClient, v1: DemoProcess
) -> None:
    admin.set_routes([Backend("v1", v1.url, 100)])
    metrics = admin.metrics_text()
    for code in ("2xx", "3xx", "4xx", "5xx"):
        assert f'rollgate_proxy_requests_total{{code="{code}",version="v1"}} 0.0' in metrics
    assert 'rollgate_proxy_request_duration_seconds_bucket{le="+Inf",version="v1"} 0.0' in metrics
    assert 'rollgate_proxy_request_duration_seconds_count{version="v1"} 0.0' in metrics


class _EchoServer:
    """A loopback aiohttp server in a thread that echoes what the proxy forwarded."""

    BIG = os.urandom(1_000_000)

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = ""

    def __enter__(self) -> _EchoServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()

        async def echo(request: web.Request) -> web.Response:
            body = await request.read()
            return web.json_response(
                {"path_qs": request.path_qs, "length": len(body), "headers": dict(request.headers)}
            )

        async def big(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"X-Hop": "1", "Connection": "X-Hop"})
            await response.prepare(request)
            for start in range(0, len(self.BIG), 100_000):
                await response.write(self.BIG[start : start + 100_000])
            await response.write_eof()
            return response

        app = web.Application(client_max_size=10_000_000)
        app.router.add_post("/echo", echo)
        app.router.add_get("/big", big)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()
