"""``kind: error_budget``: seed 000's "error budget not exhausted" (API 99.9% monthly).

Prometheus is a real HTTP server on loopback answering the Prometheus query API the way
Prometheus does; the builtin source is a real proxy in front of real demo processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from rollgate.checks.registry import run_check
from rollgate.demo.faults import write_faults
from rollgate.demo.process import start_demo
from rollgate.metrics.base import Window
from rollgate.spec.models import Spec
from rollgate.targets.local.proxy_client import Backend, ProxyClient, start_proxy, stop_proxy
from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import SECRET, check, context, make_spec, run
from tests.checks.servers import HttpApp, Reply, Request, dead_port

QUERIES = {
    "requests": 'sum(increase(http_requests_total{app="{{service}}"}[{{window}}]))',
    "errors": 'sum(increase(http_requests_total{app="{{service}}",code=~"5.."}[{{window}}]))',
}


class FakePrometheus(HttpApp):
    """Answers /api/v1/query like Prometheus: ``requests`` and ``errors`` as one sample."""

    def __init__(self) -> None:
        super().__init__()
        self.requests_total: float | None = 100_000.0
        self.errors_total = 20.0
        self.route("GET", "/api/v1/query", self._query)

    def _query(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return Reply(401, {"status": "error", "errorType": "auth", "error": "no token"})
        query = request.query["query"][0]
        value = self.errors_total if 'code=~"5.."' in query else self.requests_total
        result = [] if value is None else [{"metric": {}, "value": [1700000000, str(value)]}]
        return Reply(200, {"status": "success",
                           "data": {"resultType": "vector", "result": result}})


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    with FakePrometheus() as server:
        yield server


def prometheus_spec(url: str) -> Spec:
    metrics = {"kind": "prometheus", "url": url,
               "headers": {"Authorization": "Bearer ${PROM_TOKEN}"}}
    return make_spec(environments={"staging": {}, "production": {"metrics": metrics}})


def budget(**extra: Any) -> dict[str, Any]:
    return {"kind": "error_budget", "objective": 99.9, "window": "30d", "queries": QUERIES,
            **extra}


def on(server: HttpApp | str) -> dict[str, Any]:
    url = server if isinstance(server, str) else server.url
    return {"spec": prometheus_spec(url), "environ": {"PROM_TOKEN": SECRET}}


class TestErrorBudgetContract(CheckKindContract):
    kind = "error_budget"

    @pytest.fixture
    def passing(self, prometheus: FakePrometheus) -> Case:
        return Case(budget(), context(**on(prometheus)),
                    "availability 99.980% over 30d, objective 99.9%: 20 failed of 100000 "
                    "requests, 80% of the error budget left")

    @pytest.fixture
    def failing(self, prometheus: FakePrometheus) -> Case:
        prometheus.errors_total = 150
        return Case(budget(), context(**on(prometheus)),
                    "0% of the error budget left (exhausted)")

    @pytest.fixture
    def unreachable(self) -> Case:
        return Case(budget(), context(**on(f"http://127.0.0.1:{dead_port()}")),
                    "the requests query to Prometheus at http://127.0.0.1:")


def test_queries_name_the_service_and_the_window(prometheus: FakePrometheus) -> None:
    assert run(budget(window="1h"), context(**on(prometheus))).ok
    sent = [r.query["query"][0] for r in prometheus.requests]
    assert sent == ['sum(increase(http_requests_total{app="web"}[3600s]))',
                    'sum(increase(http_requests_total{app="web",code=~"5.."}[3600s]))']


def test_little_budget_left_is_a_warning(prometheus: FakePrometheus) -> None:
    prometheus.errors_total = 90
    result = run(budget(), context(**on(prometheus)))
    assert result.status == "warning", result.detail
    assert result.detail.endswith("10% of the error budget left")
    assert run(budget(warn_below=0.05), context(**on(prometheus))).status == "pass"


def test_no_traffic_is_a_warning_not_a_pass(prometheus: FakePrometheus) -> None:
    prometheus.requests_total = None
    result = run(budget(), context(**on(prometheus)))
    assert (result.status, result.detail) == ("warning",
                                              "no requests over 30d: no error budget to judge")


def test_prometheus_needs_queries(prometheus: FakePrometheus) -> None:
    result = run(budget(queries=None), context(**on(prometheus)))
    assert result.detail == ("production reads metrics from Prometheus: give the check "
                             "queries.requests and queries.errors (PromQL for the whole service)")


def test_the_token_is_sent_and_never_shown(prometheus: FakePrometheus) -> None:
    refused = run(budget(), context(**{**on(prometheus), "environ": {"PROM_TOKEN": "nope"}}))
    assert not refused.ok
    assert "HTTP 401 (auth: no token)" in refused.detail
    assert SECRET not in run(budget(), context(**on(prometheus))).detail


def test_a_per_version_query_is_a_spec_error() -> None:
    queries = {**QUERIES, "errors": 'sum(x{version="{{version}}"})'}
    with pytest.raises(ValidationError, match=r"leave \{\{version\}\} out"):
        check(budget(queries=queries))


class ScriptedTraffic:
    """A metric source hook returning a fixed window."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.asked: list[float] = []

    def totals(self, seconds: float) -> Window:
        self.asked.append(seconds)
        return self.window


def test_a_metric_source_hook_replaces_the_environment_source() -> None:
    source = ScriptedTraffic(Window(version="*", seconds=3600, requests=1000, errors=0))
    result = run_check(check(budget(window="1h", objective=99.0, queries=None)),
                       context(metric_source=source))
    assert result.status == "pass", result.detail
    assert source.asked == [3600.0]


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real proxy routing to a healthy demo: (public URL, admin URL); ``bad`` answers 500."""
    faults = tmp_path / "faults.json"
    write_faults(faults, {"bad": {"error_rate": 1.0}})
    with ExitStack() as stack:
        good, bad = (start_demo(v, faults=faults) for v in ("good", "bad"))
        stack.callback(good.stop)
        stack.callback(bad.stop)
        proxy = start_proxy("127.0.0.1:0", tmp_path / "proxy.json", tmp_path / "proxy.log")
        stack.callback(stop_proxy, proxy.pid)
        admin = stack.enter_context(ProxyClient(proxy.admin_url))
        admin.set_routes([Backend("good", good.url, 100)])
        with httpx.Client(base_url=f"http://{proxy.listen}") as client:
            for _ in range(38):
                client.get("/")
            admin.set_routes([Backend("bad", bad.url, 100)])
            for _ in range(2):
                client.get("/")
        yield f"http://{proxy.listen}", proxy.admin_url


def test_the_builtin_source_reads_the_proxy(proxied: tuple[str, str]) -> None:
    public, admin = proxied
    ctx = context(base_url=public, proxy_admin_url=admin)
    hour = run(budget(objective=99.0, window="1h", queries=None), ctx)
    assert hour.detail == ("availability 95.000% over 1h, objective 99%: 2 failed of 40 "
                           "requests, 0% of the error budget left (exhausted)")
    relaxed = run(budget(objective=90.0, window="30d", queries=None), ctx)
    assert relaxed.status == "warning"
    assert relaxed.detail.startswith("availability 95.000% over 1h (the metric source keeps "
                                     "only that of the 30d asked), objective 90%")


def test_the_builtin_source_needs_a_running_proxy() -> None:
    result = run(budget(queries=None), context())
    assert result.detail == ("no proxy runs for the service in production, so the builtin "
                             "metric source has no traffic to read; deploy first")
