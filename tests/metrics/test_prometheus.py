"""The Prometheus source, against a real Prometheus scraping a real proxy every second.

Debian's ``prometheus`` package provides the server (``apt-get install -y prometheus``;
.ci/run installs it). Each test class starts its own on a free loopback port with its
data in a temporary folder, and stops it afterwards.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from rollgate.errors import TargetError
from rollgate.metrics.base import MetricSource
from rollgate.metrics.builtin import BuiltinSource
from rollgate.metrics.prometheus import PrometheusSource, prometheus_duration, render
from rollgate.spec.metrics import MetricsConfig, PrometheusMetrics, PrometheusQueries
from tests.metrics.contract import (
    BAD,
    GOOD,
    IDLE,
    SPARE,
    WINDOW_SECONDS,
    MetricSourceContract,
    Observed,
    Rig,
    bucket_of,
    dead_url,
)

pytestmark = pytest.mark.timeout(60)

PROMETHEUS = Path(os.environ.get("ROLLGATE_TEST_PROMETHEUS", "/usr/bin/prometheus"))
JOB = "rollgate-proxy"
SERVICE = "shop"


def require_prometheus() -> None:
    """Fail (never skip) when the Prometheus binary is missing: CI must install it."""
    if not PROMETHEUS.exists():
        pytest.fail(
            f"{PROMETHEUS} is missing: these tests run a real Prometheus; install it with "
            "`apt-get install -y prometheus` (Debian's package; .ci/run installs it)",
            pytrace=False,
        )


def _is_value(want: float, result: list[dict[str, Any]]) -> bool:
    return bool(result) and float(result[0]["value"][1]) == want


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusServer:
    """A real Prometheus on a free loopback port, scraping one proxy's /metrics every second."""

    def __init__(self, tmp: Path, admin_url: str) -> None:
        self.tmp = tmp
        self.admin = admin_url.removeprefix("http://")
        self.url = ""
        self.log = tmp / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._http = httpx.Client(timeout=5, trust_env=False)

    def __enter__(self) -> PrometheusServer:
        require_prometheus()
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "static_configs": [{"targets": [self.admin], "labels": {"service": SERVICE}}],
                }
            ],
        }
        config_file = self.tmp / "prometheus.yml"
        config_file.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(PROMETHEUS),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={self.tmp / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        try:
            self._wait(self._ready, "answer /-/ready")
            self.wait_for(f'up{{job="{JOB}"}} == 1', bool, "scrape the proxy")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query now; return the result series."""
        body = self._http.get(f"{self.url}/api/v1/query", params={"query": promql}).json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The one value an aggregating query returns, or None for no data."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def wait_for(
        self, promql: str, done: Callable[[list[dict[str, Any]]], bool], what: str
    ) -> None:
        """Poll ``promql`` until ``done(result)``."""
        self._wait(lambda: done(self.query(promql)), what)

    def wait_for_next_scrape(self) -> None:
        """Return just after the next scrape: ``increase()`` then hardly extrapolates."""
        last = self.value(f'max(timestamp(up{{job="{JOB}"}}))')
        self._wait(
            lambda: (self.value(f'max(timestamp(up{{job="{JOB}"}}))') or 0) > (last or 0),
            "scrape again",
            poll=0.02,
        )

    def _ready(self) -> bool:
        try:
            return self._http.get(f"{self.url}/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def _wait(self, check: Callable[[], bool], what: str, poll: float = 0.1) -> None:
        deadline = time.monotonic() + 20
        while not check():
            if self._process is not None and self._process.poll() is not None:
                pytest.fail(f"Prometheus exited with {self._process.returncode}: {self._tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not {what} within 20 s: {self._tail()}")
            time.sleep(poll)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


class TestPrometheusSource(MetricSourceContract):
    # increase() extrapolates to the window's end; read right after a scrape, that is
    # well under 5% here.
    count_tolerance = 0.05
    bucket_ratio = 2.5  # the proxy's Prometheus buckets: 1, 2.5, 5, 10, 25, ... ms
    unreachable_message = (
        r"the requests query to Prometheus at http://127\.0\.0\.1:\d+ failed: ConnectError"
    )

    server: PrometheusServer

    def open_source(self, rig: Rig, tmp: Path) -> AbstractContextManager[MetricSource]:
        @contextmanager
        def running() -> Iterator[MetricSource]:
            with (
                PrometheusServer(tmp, rig.proxy.admin_url) as self.server,
                PrometheusSource(self.server.url, PrometheusQueries(), SERVICE) as source,
            ):
                yield source

        return running()

    @contextmanager
    def unreachable_source(self) -> Iterator[MetricSource]:
        with PrometheusSource(dead_url(), PrometheusQueries(), SERVICE, timeout=2) as source:
            yield source

    def before_traffic(self, source: MetricSource, rig: Rig) -> None:
        """Prometheus must hold each routed version at zero, or increase() misses the start."""
        routed = {backend.version for backend in rig.admin.routes()}
        self.server.wait_for(
            "count by (version) (rollgate_proxy_requests_total)",
            lambda result: {series["metric"]["version"] for series in result} >= routed,
            "see the routed versions",
        )

    def after_traffic(self, source: MetricSource, rig: Rig) -> None:
        """Wait for the scrape holding the last request, then for the next scrape to start."""
        totals = rig.admin.stats()["since_start"]
        for version in (GOOD, BAD):
            want = float(totals[version]["requests"])
            self.server.wait_for(
                f'sum(rollgate_proxy_requests_total{{version="{version}"}})',
                partial(_is_value, want),
                f"scrape the last of {version}'s {want:.0f} requests",
            )
        self.server.wait_for_next_scrape()

    def test_it_agrees_with_the_builtin_source_on_the_same_traffic(
        self, observed: Observed
    ) -> None:
        """Acceptance (issue 3): same traffic, same numbers within the resolution of each."""
        with BuiltinSource(observed.rig.proxy.admin_url) as builtin:
            for version in (GOOD, BAD):
                ours, theirs = builtin.window(version, WINDOW_SECONDS), observed.windows[version]
                assert theirs.requests == pytest.approx(ours.requests, rel=0.10), version
                assert ours.error_rate is not None and theirs.error_rate is not None
                assert abs(theirs.error_rate - ours.error_rate) <= 0.02, version
                ours_p95, theirs_p95 = ours.quantile(0.95), theirs.quantile(0.95)
                assert ours_p95 is not None and theirs_p95 is not None
                # The builtin p95 (4% buckets) lies in the Prometheus bucket holding its p95,
                # or at most one bucket ratio away from it.
                lower, upper = bucket_of(theirs, theirs_p95)
                ratio = max(ours_p95, theirs_p95) / min(ours_p95, theirs_p95)
                assert lower / 1.04 <= ours_p95 <= upper * 1.04 or ratio <= self.bucket_ratio, (
                    version,
                    ours_p95,
                    theirs_p95,
                )
            for version in (SPARE, IDLE):
                assert builtin.window(version, WINDOW_SECONDS).requests == 0
                assert observed.windows[version].requests == 0

    def test_it_reaches_the_same_verdict_as_the_builtin_source(self, observed: Observed) -> None:
        """Acceptance (issue 3): the default analysis decides alike on either source."""
        from rollgate.analysis.analyzer import Analyzer
        from rollgate.analysis.defaults import DEFAULT_ANALYSIS

        def verdict(source_windows: dict[str, Any], canary: str, baseline: str) -> str:
            analyzer = Analyzer(DEFAULT_ANALYSIS)
            return analyzer.evaluate(WINDOW_SECONDS, source_windows[canary],
                                     source_windows[baseline]).verdict

        with BuiltinSource(observed.rig.proxy.admin_url) as builtin:
            ours = {v: builtin.window(v, WINDOW_SECONDS) for v in (GOOD, BAD)}
        theirs = observed.windows
        assert verdict(ours, BAD, GOOD) == verdict(theirs, BAD, GOOD) == "fail"
        assert verdict(ours, GOOD, BAD) == verdict(theirs, GOOD, BAD) != "fail"

    def test_the_latency_histogram_uses_the_proxys_prometheus_buckets(
        self, observed: Observed
    ) -> None:
        bad = observed.windows[BAD]
        assert sorted(bad.latency)[:3] == [1.0, 2.5, 5.0] and math.inf in bad.latency
        # Every bad request slept 150 ms: nearly all of them sit in (100, 250] ms.
        assert bad.latency[250.0] >= 0.9 * bad.requests

    def test_templates_fill_in_the_service_and_extra_queries_land_in_extra(
        self, observed: Observed
    ) -> None:
        per_service = '{service="{{service}}",version="{{version}}"}[{{window}}]'
        queries = PrometheusQueries(
            requests=f"sum(increase(rollgate_proxy_requests_total{per_service}))",
            extra={
                "rps": f"sum(rate(rollgate_proxy_requests_total{per_service}))",
                "weight": 'max(rollgate_proxy_backend_weight{version="{{version}}"})',
                "nothing": 'sum(rate(no_such_metric{version="{{version}}"}[{{window}}]))',
            },
        )
        url = self.url_of(observed)
        with PrometheusSource(url, queries, SERVICE) as source:
            window = source.window(BAD, WINDOW_SECONDS)
        sent = observed.sent_requests(BAD)
        assert self.close_enough(window.requests, sent), (window.requests, sent)
        assert window.extra["weight"] == 50.0
        assert window.extra["nothing"] is None
        rps = window.extra["rps"]
        assert rps is not None and rps == pytest.approx(window.requests / WINDOW_SECONDS, rel=0.1)
        with PrometheusSource(url, queries, "another-service") as source:
            assert source.window(BAD, WINDOW_SECONDS).requests == 0

    def test_a_query_prometheus_rejects_is_named_in_the_error(self, observed: Observed) -> None:
        unclosed = 'sum(increase(rollgate_proxy_requests_total{version="{{version}}"}[{{window}}])'
        queries = PrometheusQueries(errors=unclosed)
        with (
            PrometheusSource(self.url_of(observed), queries, SERVICE) as source,
            pytest.raises(TargetError) as caught,
        ):
            source.window(BAD, WINDOW_SECONDS)
        message = caught.value.message
        assert "the errors query to Prometheus at" in message
        assert "HTTP 400 (bad_data:" in message and "parse error" in message
        assert "fix metrics.queries.errors" in message
        assert 'version="bad"}[60s])' in message  # the query as it was sent

    def test_a_query_returning_several_series_asks_for_an_aggregation(
        self, observed: Observed
    ) -> None:
        per_code = 'increase(rollgate_proxy_requests_total{version="{{version}}"}[{{window}}])'
        with (
            PrometheusSource(
                self.url_of(observed), PrometheusQueries(requests=per_code), SERVICE
            ) as source,
            pytest.raises(TargetError, match=r"requests query returned 4 series.*sum\(\.\.\.\)"),
        ):
            source.window(BAD, WINDOW_SECONDS)

    def test_a_url_that_is_not_prometheus_is_a_clear_error(self, observed: Observed) -> None:
        with (
            PrometheusSource(observed.rig.proxy.admin_url, PrometheusQueries(), SERVICE) as source,
            pytest.raises(TargetError, match=r"requests query .* failed with HTTP 404"),
        ):
            source.window(BAD, WINDOW_SECONDS)

    @staticmethod
    def url_of(observed: Observed) -> str:
        assert isinstance(observed.source, PrometheusSource)
        return observed.source.url


def test_prometheus_is_installed() -> None:
    require_prometheus()


class _RecordingPrometheus:
    """A loopback stand-in for the query API: records requests, answers "no data"."""

    def __init__(self) -> None:
        seen: list[tuple[dict[str, str], str]] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((dict(self.headers), self.path))
                body = json.dumps(
                    {"status": "success", "data": {"resultType": "vector", "result": []}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _RecordingPrometheus:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_headers_from_the_config_are_sent_with_references_filled_in() -> None:
    with _RecordingPrometheus() as fake:
        config = PrometheusMetrics(
            kind="prometheus",
            url=fake.url,
            headers={"Authorization": "Bearer ${PROM_TOKEN}", "X-Scope-OrgID": "team-a"},
        )
        source = PrometheusSource.from_config(
            config, service=SERVICE, environ={"PROM_TOKEN": "s3cret-t0ken"}
        )
        with source:
            window = source.window("v2", 30)
    assert (window.requests, window.errors, window.latency, window.extra) == (0, 0, {}, {})
    assert len(fake.seen) == 3  # requests, errors, latency
    for headers, path in fake.seen:
        assert headers["Authorization"] == "Bearer s3cret-t0ken"
        assert headers["X-Scope-OrgID"] == "team-a"
        assert "time=" in path
    times = {path.split("time=")[1].split("&")[0] for _, path in fake.seen}
    assert len(times) == 1  # every query of a window is evaluated at the same instant


def test_a_header_reference_to_an_unset_variable_says_what_to_export() -> None:
    config = PrometheusMetrics(
        kind="prometheus", url="http://127.0.0.1:9090", headers={"Authorization": "${NOPE}"}
    )
    with pytest.raises(TargetError, match=r"metrics.headers.Authorization .* export NOPE"):
        PrometheusSource.from_config(config, service=SERVICE, environ={})


def test_templates_render_label_values_and_prometheus_durations() -> None:
    template = 'x{version="{{version}}",app="{{ service }}"}[{{window}}]'
    assert render(template, version='v"1', service="shop", window=90) == (
        'x{version="v\\"1",app="shop"}[90s]'
    )
    assert prometheus_duration(30) == "30s"
    assert prometheus_duration(1.5) == "1500ms"
    with pytest.raises(ValueError, match="positive"):
        prometheus_duration(0)


@pytest.mark.parametrize(
    ("metrics", "problem"),
    [
        ({"kind": "prometheus", "url": "127.0.0.1:9090"}, "should match pattern"),
        (
            {"kind": "prometheus", "url": "http://p", "queries": {"errors": "sum(x)"}},
            "must select one version with {{version}}",
        ),
        (
            {"kind": "prometheus", "url": "http://p", "queries": {"requests": "{{verison}}"}},
            "unknown placeholder {{verison}}",
        ),
        (
            {"kind": "prometheus", "url": "http://p", "queries": {"extra": {"a": "{{x}}"}}},
            "a: unknown placeholder {{x}}",
        ),
        ({"kind": "datadog"}, "does not match any of the expected tags"),
    ],
)
def test_the_config_refuses_what_cannot_work(metrics: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem.replace("{", r"\{").replace("(", r"\(")):
        TypeAdapter(MetricsConfig).validate_python(metrics)


def test_the_config_defaults_read_rollgates_own_proxy_metrics() -> None:
    config = TypeAdapter(MetricsConfig).validate_python(
        {"kind": "prometheus", "url": "http://127.0.0.1:9090", "timeout": "2s"}
    )
    assert isinstance(config, PrometheusMetrics)
    assert config.timeout == 2.0
    assert "rollgate_proxy_requests_total" in config.queries.requests
    assert config.queries.latency is not None and "by (le)" in config.queries.latency
    assert TypeAdapter(MetricsConfig).validate_python({"kind": "builtin"}).kind == "builtin"
