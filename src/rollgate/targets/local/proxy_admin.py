"""The proxy's admin API, served on its own loopback listener.

GET /health             {"status": "ok", "pid", "listen", "admin"}
GET /routes             {"backends": [{"version", "url", "weight"}, ...]}
PUT /routes             same body; 400 with a reason if invalid
GET /metrics            Prometheus text format
GET /stats?window=S     per-version counts, error rate and percentiles
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from rollgate.targets.local.proxy_routes import RouteTable, parse_routes


class AdminTarget(Protocol):
    """What the admin API needs from the running proxy."""

    def routes(self) -> RouteTable:
        """Return the current routing table."""
        ...

    def replace_routes(self, table: RouteTable) -> None:
        """Swap in a new routing table and persist it."""
        ...

    def health(self) -> dict[str, Any]:
        """Return the health body."""
        ...

    def stats(self, window: float) -> dict[str, Any]:
        """Return the per-version summary over ``window`` seconds and since start."""
        ...

    def metrics(self) -> bytes:
        """Return the Prometheus exposition."""
        ...


_TARGET = web.AppKey[AdminTarget]("target")


def _bad_request(reason: str) -> web.Response:
    return web.json_response({"error": "bad request", "detail": reason}, status=400)


async def _health(request: web.Request) -> web.Response:
    return web.json_response(request.app[_TARGET].health())


async def _get_routes(request: web.Request) -> web.Response:
    return web.json_response(request.app[_TARGET].routes().to_json())


async def _put_routes(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        return _bad_request(f"body is not valid JSON: {exc}")
    try:
        table = parse_routes(body)
    except ValueError as exc:
        return _bad_request(str(exc))
    request.app[_TARGET].replace_routes(table)
    return web.json_response(table.to_json())


async def _stats(request: web.Request) -> web.Response:
    raw = request.query.get("window", "60")
    try:
        window = float(raw)
    except ValueError:
        return _bad_request(f"window must be a number of seconds, got {raw!r}")
    if not math.isfinite(window) or window <= 0:
        return _bad_request(f"window must be > 0 seconds, got {raw!r}")
    return web.json_response(request.app[_TARGET].stats(window))


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[_TARGET].metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def build_admin_app(target: AdminTarget) -> web.Application:
    """Return the admin application bound to a running proxy."""
    app = web.Application(client_max_size=1024 * 1024)
    app[_TARGET] = target
    app.router.add_get("/health", _health)
    app.router.add_get("/routes", _get_routes)
    app.router.add_put("/routes", _put_routes)
    app.router.add_get("/stats", _stats)
    app.router.add_get("/metrics", _metrics)
    return app
