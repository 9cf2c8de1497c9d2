"""Security headers on every response of a real ``rollgate serve``; the docs page's own CSP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, cast

import httpx
import pytest

from rollgate.api.app import create_app
from rollgate.api.security import CSP, DOCS_CSP, HSTS
from rollgate.engine.runtime import Runtime
from rollgate.testing import Sandbox
from tests.api.conftest import ApiServer, write_spec

FIXED = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
         "referrer-policy": "no-referrer"}


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header value as {directive: sources}."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in found, f"{name} twice in {policy}"
        found[name] = sources
    return found


def assert_secure(resp: httpx.Response, *, csp: str = CSP, tls: bool = False) -> None:
    """The response carries every header, with HSTS exactly when the request was on TLS."""
    where = f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}"
    for name, value in FIXED.items():
        assert resp.headers.get(name) == value, (where, name, resp.headers)
    assert resp.headers.get("content-security-policy") == csp, where
    if tls:
        assert resp.headers.get("strict-transport-security") == HSTS, where
    else:
        assert "strict-transport-security" not in resp.headers, where


def test_the_policy_is_strict() -> None:
    policy = directives(CSP)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert not re.search(r"unsafe-|\*|data:|https?:", CSP)


def test_every_kind_of_response_carries_the_headers(api: ApiServer) -> None:
    http = api.http
    responses = [
        http.get("/api/health"),                                   # 200, JSON
        http.get("/api/runs"),                                     # a page
        http.get("/openapi.json"),                                 # the schema
        http.get("/api/runs/run-nope"),                            # 404 from rollgate
        http.get("/api/no-such-route"),                            # 404 from routing
        http.delete("/api/health"),                                # 405
        http.get("/api/runs", params={"limit": 0}),                # 422
        http.post("/api/deploys", json={"service": "nope", "environment": "production",
                                        "version": "v1"}),         # 400
        http.get(DOCS_SCRIPT),                                     # the docs' own script
        http.get("/api/audit"),
        http.get("/api/audit/verify"),
    ]
    for resp in responses:
        assert_secure(resp)
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 404, 405, 422, 400,
                                                  200, 200, 200]
    assert_secure(http.get("/docs"), csp=DOCS_CSP)


def test_the_event_stream_carries_the_headers(api: ApiServer) -> None:
    run = api.deployed("v1")
    with api.http.stream("GET", f"/api/runs/{run['id']}/events") as resp:
        assert resp.status_code == 200
        assert_secure(resp)


DOCS_SCRIPT = "/docs/swagger-init.js"


class _Page(HTMLParser):
    """The scripts, stylesheets and inline code of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.style_attrs = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.style_attrs += "style" in found or any(k.startswith("on") for k in found)
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.styles.append(found)
        elif tag == "style":
            self.inline.append("<style>")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def _allowed(url: str, sources: list[str]) -> bool:
    same_origin = url.startswith("/") and not url.startswith("//")
    return (same_origin and "'self'" in sources) or url in sources


def test_the_docs_page_loads_only_what_its_policy_allows(api: ApiServer) -> None:
    resp = api.http.get("/docs")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    policy = directives(resp.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"]
    assert not re.search(r"unsafe-|\*", resp.headers["content-security-policy"])
    page = _Page()
    page.feed(resp.text)
    assert page.inline == [] and page.style_attrs == 0, "no inline script or style"
    assert len(page.scripts) == 2 and len(page.styles) == 1
    for tag, directive in [*((s, "script-src") for s in page.scripts),
                           *((s, "style-src") for s in page.styles)]:
        url = tag.get("src") or tag.get("href") or ""
        assert _allowed(url, policy[directive]), (url, policy[directive])
        if url.startswith("https://"):  # third-party files are pinned by their hash too
            assert (tag.get("integrity") or "").startswith("sha384-"), tag
            assert re.search(r"@\d+\.\d+\.\d+/", url), f"{url} is not a pinned version"
    init = api.http.get(page.scripts[-1]["src"] or "")
    assert init.status_code == 200 and "javascript" in init.headers["content-type"]
    openapi_url = re.search(r'data-openapi-url="([^"]+)"', resp.text)
    assert openapi_url and api.http.get(openapi_url[1]).json()["info"]["title"] == "rollgate"
    assert api.http.get("/redoc").status_code == 404  # its page needs inline styles


def test_hsts_only_behind_a_trusted_tls_proxy(api: ApiServer) -> None:
    assert_secure(api.http.get("/api/health"))
    # rollgate serve trusts X-Forwarded-Proto from loopback by default (a local proxy).
    tls = api.http.get("/api/health", headers={"X-Forwarded-Proto": "https"})
    assert_secure(tls, tls=True)
    assert_secure(api.http.get("/docs", headers={"X-Forwarded-Proto": "https"}),
                  csp=DOCS_CSP, tls=True)


class _ProxySandbox(Sandbox):
    """The same project, served with other trusted proxies."""

    trusted = "192.0.2.1"

    @property
    def env(self) -> dict[str, str]:
        """The sandbox's environment plus ROLLGATE_TRUSTED_PROXIES."""
        return {**super().env, "ROLLGATE_TRUSTED_PROXIES": self.trusted}


@pytest.fixture
def untrusting_api(sandbox: Sandbox) -> Iterator[ApiServer]:
    """A server that trusts only a proxy at 192.0.2.1, not the loopback test client."""
    write_spec(sandbox)
    server = ApiServer(_ProxySandbox(sandbox.root, database_url=sandbox.database_url))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.http.close()


def test_an_untrusted_client_cannot_claim_tls(untrusting_api: ApiServer) -> None:
    resp = untrusting_api.http.get("/api/health", headers={"X-Forwarded-Proto": "https"})
    assert_secure(resp)


def _app() -> Any:
    """An app over no runtime (the routes below need none), with a route that crashes."""
    app = create_app(cast(Runtime, None), lambda: cast(Any, None))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return app


def _get(base_url: str, path: str) -> httpx.Response:
    """One request to the in-process app, errors answered as the server would."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.get(path)

    return asyncio.run(call())


def test_a_server_error_carries_the_headers_too() -> None:
    resp = _get("http://t", "/boom")
    assert resp.status_code == 500
    assert resp.json() == {"error": {"code": "internal",
                                     "message": "internal error; see the server's log"}}
    assert_secure(resp)


def test_tls_requests_get_hsts() -> None:
    assert_secure(_get("https://t", DOCS_SCRIPT), tls=True)
