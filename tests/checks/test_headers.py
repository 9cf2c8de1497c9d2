"""``kind: headers``: security headers on a response (seed 003's ``curl -I | grep -E``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import context, run
from tests.checks.servers import HttpApp, Reply, dead_port

SECURE = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


@pytest.fixture
def app() -> Iterator[HttpApp]:
    with HttpApp() as server:
        server.route("GET", "/", Reply(200, "home", headers=SECURE))
        server.route("GET", "/legacy", Reply(200, "old", headers={
            "Strict-Transport-Security": "max-age=86400", "X-Frame-Options": "ALLOWALL"}))
        yield server


class TestHeadersContract(CheckKindContract):
    kind = "headers"

    @pytest.fixture
    def passing(self, app: HttpApp) -> Case:
        return Case({"kind": "headers", "expect": {"X-Content-Type-Options": "nosniff"}},
                    context(base_url=app.url), "GET /: HTTP 200, 4 headers as expected")

    @pytest.fixture
    def failing(self, app: HttpApp) -> Case:
        return Case({"kind": "headers", "path": "/legacy"}, context(base_url=app.url),
                    "GET /legacy: HTTP 200, missing Content-Security-Policy, "
                    "X-Content-Type-Options; Strict-Transport-Security max-age is 1d, "
                    "expected at least 180d")

    @pytest.fixture
    def unreachable(self) -> Case:
        return Case({"kind": "headers"}, context(base_url=f"http://127.0.0.1:{dead_port()}"),
                    "GET /: ConnectError")


def test_a_header_value_must_contain_the_expected_text(app: HttpApp) -> None:
    result = run({"kind": "headers", "path": "/legacy", "require": ["X-Frame-Options"],
                  "expect": {"X-Frame-Options": "deny"}, "hsts_min_age": None},
                 context(base_url=app.url))
    assert result.detail == ("GET /legacy: HTTP 200, X-Frame-Options is 'ALLOWALL', expected "
                             "it to contain 'deny'")


def test_the_hsts_bound_is_configurable(app: HttpApp) -> None:
    config = {"kind": "headers", "path": "/legacy", "require": ["Strict-Transport-Security"]}
    assert not run(config, context(base_url=app.url)).ok
    assert run({**config, "hsts_min_age": "1d"}, context(base_url=app.url)).ok


def test_a_wrong_status_fails_even_with_the_headers(app: HttpApp) -> None:
    app.route("GET", "/gone", Reply(404, "nope", headers=SECURE))
    result = run({"kind": "headers", "path": "/gone"}, context(base_url=app.url))
    assert result.detail == "GET /gone: HTTP 404, expected HTTP 200"
    assert run({"kind": "headers", "path": "/gone", "expect_status": None},
               context(base_url=app.url)).ok


def test_an_explicit_base_url_wins_over_the_service(app: HttpApp) -> None:
    result = run({"kind": "headers", "base_url": app.url},
                 context(base_url=f"http://127.0.0.1:{dead_port()}"))
    assert result.ok, result.detail
