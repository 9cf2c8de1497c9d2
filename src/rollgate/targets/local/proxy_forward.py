"""The proxy's request path: pick a backend, forward, relay the answer, count it.

This runs for every request, so it avoids aiohttp's router and middlewares (it is a
low-level ``web.Server`` handler), reads small bodies in one go and streams the rest.
In maintenance mode it answers 503 itself instead, before any backend is picked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from time import monotonic
from typing import Any

from aiohttp import (
    ClientConnectorError,
    ClientError,
    ClientOSError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    ConnectionTimeoutError,
    DummyCookieJar,
    ServerDisconnectedError,
    TCPConnector,
    hdrs,
    web,
)
from multidict import CIMultiDict
from yarl import URL

from rollgate.targets.local.proxy_maintenance import (
    MAINTENANCE_HEADER,
    RETRY_AFTER_SECONDS,
    Maintenance,
)
from rollgate.targets.local.proxy_routes import Backend, RouteTable
from rollgate.targets.local.proxy_stats import ProxyStats

log = logging.getLogger(__name__)

VERSION_HEADER = "X-Rollgate-Version"

# RFC 9110 section 7.6.1, plus the non-standard Proxy-Connection. Expect is dropped too:
# the body is streamed on, so the upstream must not wait for a 100-continue dance.
_HOP_BY_HOP = (
    hdrs.CONNECTION,
    hdrs.KEEP_ALIVE,
    hdrs.PROXY_AUTHENTICATE,
    hdrs.PROXY_AUTHORIZATION,
    "Proxy-Connection",
    hdrs.TE,
    hdrs.TRAILER,
    hdrs.TRANSFER_ENCODING,
    hdrs.UPGRADE,
)
_REQUEST_ONLY_DROP = (*_HOP_BY_HOP, hdrs.HOST, hdrs.EXPECT)

# Failing to connect means nothing reached the backend, so another one may take it.
_CONNECT_ERRORS = (ClientConnectorError, ConnectionTimeoutError)
# A reset or close before any response byte (e.g. a backend closing its listener with
# connections still in the accept queue) is safe to retry for idempotent requests
# without a body (RFC 9110 section 9.2.2). aiohttp already retried once on the same backend.
_RESET_ERRORS = (ClientOSError, ServerDisconnectedError)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

# Bodies up to this size (with a known length) are read whole and sent in one write.
_SMALL_BODY = 64 * 1024
_STREAM_CHUNK = 64 * 1024
_NO_BODY_STATUS = frozenset({204, 304})


def new_session() -> ClientSession:
    """Return the one upstream session: pooled keep-alive, no cookies, bodies as-is."""
    connector = TCPConnector(
        limit=0,
        keepalive_timeout=15.0,  # below aiohttp's and most servers' idle timeouts
    )
    return ClientSession(
        connector=connector,
        cookie_jar=DummyCookieJar(),
        auto_decompress=False,
        timeout=ClientTimeout(total=None, sock_connect=5.0),
        skip_auto_headers=(hdrs.USER_AGENT, hdrs.ACCEPT, hdrs.ACCEPT_ENCODING, hdrs.CONTENT_TYPE),
    )


def json_response(status: int, body: dict[str, Any], version: str | None = None) -> web.Response:
    """Return a small JSON answer made by the proxy itself."""
    response = web.Response(status=status, text=json.dumps(body), content_type="application/json")
    if version is not None:
        response.headers[VERSION_HEADER] = version
    return response


def maintenance_response(maintenance: Maintenance) -> web.Response:
    """Return the 503 every public request gets while maintenance mode is on."""
    response = json_response(503, {"error": "maintenance", "message": maintenance.message})
    response.headers[hdrs.RETRY_AFTER] = str(RETRY_AFTER_SECONDS)
    response.headers[MAINTENANCE_HEADER] = "1"
    return response


def _retryable(exc: BaseException, request: web.BaseRequest, body: object) -> bool:
    """True if nothing of the request can have been acted on, so another backend may take it."""
    if isinstance(exc, _CONNECT_ERRORS):
        return True
    return isinstance(exc, _RESET_ERRORS) and body is None and request.method in _IDEMPOTENT


def _clean_response_headers(headers: CIMultiDict[str], backend: Backend) -> None:
    _drop_connection_tokens(headers, _HOP_BY_HOP)
    headers[VERSION_HEADER] = backend.version


def _drop_connection_tokens(headers: CIMultiDict[str], names: tuple[str, ...]) -> None:
    connection = headers.get(hdrs.CONNECTION)
    for name in names:
        headers.popall(name, None)
    if connection:
        for token in connection.split(","):
            headers.popall(token.strip(), None)


class Forwarder:
    """Handles one public request: weighted pick, one retry on connect failure, relay.

    ``maintenance`` is read once per request: while it returns a value, requests are
    answered by :func:`maintenance_response` and counted apart from every version.
    """

    def __init__(
        self,
        session: ClientSession,
        stats: ProxyStats,
        routes: Callable[[], RouteTable],
        maintenance: Callable[[], Maintenance | None] | None = None,
    ) -> None:
        self._session = session
        self._stats = stats
        self._routes = routes
        self._maintenance = maintenance
        self._warned: dict[str, tuple[float, int]] = {}

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        """Forward ``request`` to a backend and relay its answer (or answer maintenance)."""
        maintenance = self._maintenance() if self._maintenance is not None else None
        if maintenance is not None:
            self._stats.record_maintenance()
            return maintenance_response(maintenance)
        start = monotonic()
        backend = self._routes().pick()
        if backend is None:
            return json_response(
                503,
                {"error": "no backend", "detail": "no backend in the routing table has weight > 0"},
            )
        headers = self._upstream_headers(request)
        body = request.content if request.body_exists else None
        try:
            upstream = await self._send(request, backend, headers, body)
        except (ClientError, TimeoutError) as exc:
            self._count_failure(backend, start, exc)
            retry = self._routes().pick_other(backend) if _retryable(exc, request, body) else None
            if retry is None:
                return self._bad_gateway(backend, exc)
            backend = retry
            try:
                upstream = await self._send(request, backend, headers, body)
            except (ClientError, TimeoutError) as again:
                self._count_failure(backend, start, again)
                return self._bad_gateway(backend, again)
        try:
            return await self._relay(request, upstream, backend, start)
        finally:
            upstream.release()

    def _upstream_headers(self, request: web.BaseRequest) -> CIMultiDict[str]:
        incoming = request.headers
        headers = CIMultiDict(incoming)
        _drop_connection_tokens(headers, _REQUEST_ONLY_DROP)
        peer = request.remote or ""
        forwarded_for = incoming.get(hdrs.X_FORWARDED_FOR)
        headers[hdrs.X_FORWARDED_FOR] = f"{forwarded_for}, {peer}" if forwarded_for else peer
        headers[hdrs.X_FORWARDED_PROTO] = request.scheme
        headers[hdrs.X_FORWARDED_HOST] = incoming.get(hdrs.HOST, "")
        return headers

    async def _send(
        self,
        request: web.BaseRequest,
        backend: Backend,
        headers: CIMultiDict[str],
        body: object,
    ) -> ClientResponse:
        url = URL(backend.url + request.raw_path, encoded=True)
        return await self._session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        )

    async def _relay(
        self, request: web.BaseRequest, upstream: ClientResponse, backend: Backend, start: float
    ) -> web.StreamResponse:
        status = upstream.status
        length = upstream.content_length
        response: web.StreamResponse
        if (
            request.method == hdrs.METH_HEAD
            or status in _NO_BODY_STATUS
            or (length is not None and length <= _SMALL_BODY)
        ):
            try:
                body = await upstream.read()
            except (ClientError, TimeoutError) as exc:
                self._count_failure(backend, start, exc)
                return self._bad_gateway(backend, exc)
            # The response copies the headers; clean that copy rather than making another.
            response = web.Response(
                status=status, reason=upstream.reason, headers=upstream.headers, body=body
            )
            _clean_response_headers(response.headers, backend)
            self._count(backend, status, start)
            return response
        response = web.StreamResponse(
            status=status, reason=upstream.reason, headers=upstream.headers
        )
        _clean_response_headers(response.headers, backend)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_chunked(_STREAM_CHUNK):
                await response.write(chunk)
        except (ClientError, TimeoutError) as exc:
            # The status line is already out; the client sees a cut-off body.
            self._count_failure(backend, start, exc)
            raise
        except ConnectionResetError:
            log.debug("client went away while streaming from %s", backend.version)
        else:
            await response.write_eof()
        self._count(backend, status, start)
        return response

    def _count(self, backend: Backend, status: int, start: float) -> None:
        now = monotonic()
        self._stats.record(backend.version, status, now - start, now)

    def _count_failure(self, backend: Backend, start: float, exc: BaseException) -> None:
        now = monotonic()
        self._stats.record(backend.version, 502, now - start, now, upstream_error=True)
        # A dead backend fails every request sent to it: one line per backend per second.
        last, quiet = self._warned.get(backend.url, (0.0, 0))
        if now - last < 1.0:
            self._warned[backend.url] = (last, quiet + 1)
            return
        self._warned[backend.url] = (now, 0)
        log.warning(
            "upstream %s at %s failed: %s (%d more since the last warning)",
            backend.version,
            backend.url,
            exc or type(exc).__name__,
            quiet,
        )

    @staticmethod
    def _bad_gateway(backend: Backend, exc: BaseException) -> web.Response:
        return json_response(
            502,
            {
                "error": "bad gateway",
                "detail": f"{backend.version} at {backend.url}: {exc or type(exc).__name__}",
                "version": backend.version,
            },
            version=backend.version,
        )
