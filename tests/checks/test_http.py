"""``kind: http``: one request against the service's public URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import context, run
from tests.checks.servers import HttpApp, Reply, dead_port


@pytest.fixture
def app() -> Iterator[HttpApp]:
    with HttpApp() as server:
        server.route("GET", "/health", Reply(200, {"status": "ok", "db": "up"}))
        server.route("GET", "/broken", Reply(500, "boom"))
        yield server


class TestHttpContract(CheckKindContract):
    kind = "http"

    @pytest.fixture
    def passing(self, app: HttpApp) -> Case:
        config = {"kind": "http", "path": "/health", "expect_json": {"status": "ok"}}
        return Case(config, context(base_url=app.url), "GET /health: HTTP 200")

    @pytest.fixture
    def failing(self, app: HttpApp) -> Case:
        return Case({"kind": "http", "path": "/broken"}, context(base_url=app.url),
                    "GET /broken: HTTP 500, expected 200")

    @pytest.fixture
    def unreachable(self) -> Case:
        return Case({"kind": "http", "path": "/health"},
                    context(base_url=f"http://127.0.0.1:{dead_port()}"),
                    "GET /health: ConnectError")


def test_sends_method_headers_and_json_body(app: HttpApp) -> None:
    app.route("POST", "/api/items", Reply(201, {"id": 7, "name": "pen"}))
    result = run({"kind": "http", "method": "POST", "path": "/api/items",
                  "headers": {"X-Trace": "smoke"}, "body": {"name": "pen"},
                  "expect_status": 201, "expect_text": '"pen"'}, context(base_url=app.url))
    assert result.ok, result.detail
    sent = app.requests[-1]
    assert (sent.method, sent.headers["X-Trace"], sent.json()) == ("POST", "smoke",
                                                                   {"name": "pen"})


def test_a_body_without_the_expected_json_fails_showing_it(app: HttpApp) -> None:
    result = run({"kind": "http", "path": "/health", "expect_json": {"db": "down"}},
                 context(base_url=app.url))
    assert not result.ok
    assert result.detail == ("GET /health: HTTP 200, body {'status': 'ok', 'db': 'up'} does "
                             "not contain {'db': 'down'}")


def test_without_a_url_it_fails_saying_so() -> None:
    result = run({"kind": "http"}, context())
    assert not result.ok
    assert "has no URL to request" in result.detail
