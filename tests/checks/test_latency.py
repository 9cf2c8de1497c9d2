"""``kind: latency``: seed 003's ``ab -n 100 -c 10``, judged on p95 (and p50)."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator

import pytest

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import context, run
from tests.checks.servers import HttpApp, Reply, Request, dead_port

SLOW = 0.05  # seconds /slow takes


@pytest.fixture
def app() -> Iterator[HttpApp]:
    with HttpApp() as server:
        server.route("GET", "/health", Reply(200, "ok"))
        server.route("GET", "/slow", Reply(200, "ok", delay=SLOW))
        yield server


class TestLatencyContract(CheckKindContract):
    kind = "latency"

    @pytest.fixture
    def passing(self, app: HttpApp) -> Case:
        return Case({"kind": "latency", "path": "/health", "requests": 50, "concurrency": 5,
                     "p95": "1s", "p50": "500ms"}, context(base_url=app.url),
                    "GET /health: 50 requests at concurrency 5")

    @pytest.fixture
    def failing(self, app: HttpApp) -> Case:
        return Case({"kind": "latency", "path": "/slow", "requests": 20, "p95": "20ms"},
                    context(base_url=app.url), "p95 not below 20 ms")

    @pytest.fixture
    def unreachable(self) -> Case:
        return Case({"kind": "latency", "requests": 5, "p95": "1s"},
                    context(base_url=f"http://127.0.0.1:{dead_port()}"),
                    "5 failed (no answer x5)")


def test_reports_percentiles_and_throughput(app: HttpApp) -> None:
    result = run({"kind": "latency", "path": "/slow", "requests": 20, "concurrency": 10,
                  "p95": "2s"}, context(base_url=app.url))
    assert result.ok, result.detail
    found = re.search(r"(\d+) req/s, 0 failed, p50 (\d+) ms, p95 (\d+) ms \(below 2000 ms\)",
                      result.detail)
    assert found, result.detail
    rate, p50, p95 = (int(g) for g in found.groups())
    assert 50 <= p50 <= p95 < 1000  # every request slept 50 ms
    assert rate > 20  # 10 at a time, not one after the other
    assert len(app.requests) == 20


def test_concurrency_is_what_was_asked(app: HttpApp) -> None:
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def counted(_: Request) -> Reply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        threading.Event().wait(0.02)
        with lock:
            in_flight[0] -= 1
        return Reply(200, "ok")

    app.route("GET", "/counted", counted)
    assert run({"kind": "latency", "path": "/counted", "requests": 24, "concurrency": 4,
                "p95": "5s"}, context(base_url=app.url)).ok
    assert peak[0] == 4


def test_errors_count_as_failures(app: HttpApp) -> None:
    counter = itertools.count()
    app.route("GET", "/flaky", lambda _: Reply(500 if next(counter) % 10 == 0 else 200, "x"))
    config = {"kind": "latency", "path": "/flaky", "requests": 30, "p95": "1s"}
    result = run(config, context(base_url=app.url))
    assert not result.ok
    assert "3 failed" in result.detail
    assert "more than 0 failed (HTTP 500 x3)" in result.detail
    assert run({**config, "max_errors": 3}, context(base_url=app.url)).ok


def test_p50_bound_is_judged_too(app: HttpApp) -> None:
    result = run({"kind": "latency", "path": "/slow", "requests": 10, "p95": "5s",
                  "p50": "10ms"}, context(base_url=app.url))
    assert not result.ok
    assert result.detail.endswith("p50 not below 10 ms")
