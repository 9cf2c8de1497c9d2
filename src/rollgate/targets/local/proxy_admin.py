"""The proxy's admin API, served on its own loopback listener.

GET /health             {"status": "ok", "pid", "listen", "admin"}
GET /routes             {"backends": [{"version", "url", "weight"}, ...]}
PUT /routes             same body; 400 with a reason if invalid
GET /metrics            Prometheus text format
GET /stats?window=S     per-version counts, error rate and percentiles, and "maintenance":
                        how many requests maintenance mode answered since start (those
                        are no version's requests, so never a version's 5xx)
GET /stats?window=S&histogram=1
                        the same, and per version in the window: "errors" (5xx, failed
                        upstream attempts included) and "histogram", the non-empty latency
                        buckets as [upper_bound_ms, count] (non-cumulative; bound null for
                        the open-ended last bucket)
GET /maintenance        {"maintenance": null} when off, or
                        {"maintenance": {"message", "since"}} ("since" in epoch seconds)
PUT /maintenance        {"message": "..."} (non-empty, at most 500 characters) turns it on,
                        or changes the message and keeps "since"; answers like GET; 400
                        with a reason if invalid. While on, every public request is
                        answered 503 {"error": "maintenance", "message"} with the headers
                        Retry-After: 30 and X-Rollgate-Maintenance: 1, and no backend sees
                        it; requests already forwarded finish normally
DELETE /maintenance     turns it off (also when already off); {"maintenance": null}
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from rollgate.targets.local.proxy_maintenance import Maintenance, parse_request
from rollgate.targets.local.proxy_routes import RouteTable, parse_routes


class AdminTarget(Protocol):
    """What the admin API needs from the running proxy."""

    def routes(self) -> RouteTable:
        """Return the current routing table."""
        ...

    def replace_routes(self, table: RouteTable) -> None:
        """Swap in a new routing table and persist it."""
        ...

    def maintenance(self) -> Maintenance | None:
        """Return the maintenance state, ``None`` when off."""
        ...

    def set_maintenance(self, message: str | None) -> Maintenance | None:
        """Turn maintenance on with ``message`` or off with ``None``, persist it, return it."""
        ...

    def health(self) -> dict[str, Any]:
        """Return the health body."""
        ...

    def stats(self, window: float) -> dict[str, Any]:
        """Return the per-version summary over ``window`` seconds and since start.

        Window rows carry ``errors`` and ``histogram`` (see ``ProxyStats.summary``).
        """
        ...

    def metrics(self) -> bytes:
        """Return the Prometheus exposition."""
        ...


_TARGET = web.AppKey[AdminTarget]("target")
_FLAGS = {"1": True, "true": True, "0": False, "false": False}
_HISTOGRAM_FIELDS = ("errors", "histogram")


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


def _maintenance_body(maintenance: Maintenance | None) -> web.Response:
    return web.json_response({"maintenance": maintenance.to_json() if maintenance else None})


async def _get_maintenance(request: web.Request) -> web.Response:
    return _maintenance_body(request.app[_TARGET].maintenance())


async def _put_maintenance(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        return _bad_request(f"body is not valid JSON: {exc}")
    try:
        message = parse_request(body)
    except ValueError as exc:
        return _bad_request(str(exc))
    return _maintenance_body(request.app[_TARGET].set_maintenance(message))


async def _delete_maintenance(request: web.Request) -> web.Response:
    return _maintenance_body(request.app[_TARGET].set_maintenance(None))


async def _stats(request: web.Request) -> web.Response:
    raw = request.query.get("window", "60")
    try:
        window = float(raw)
    except ValueError:
        return _bad_request(f"window must be a number of seconds, got {raw!r}")
    if not math.isfinite(window) or window <= 0:
        return _bad_request(f"window must be > 0 seconds, got {raw!r}")
    flag = request.query.get("histogram", "0")
    histogram = _FLAGS.get(flag.lower())
    if histogram is None:
        return _bad_request(f"histogram must be 1 or 0, got {flag!r}")
    body = request.app[_TARGET].stats(window)
    if not histogram:
        for row in body["versions"].values():
            for key in _HISTOGRAM_FIELDS:
                row.pop(key, None)
    return web.json_response(body)


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
    app.router.add_get("/maintenance", _get_maintenance)
    app.router.add_put("/maintenance", _put_maintenance)
    app.router.add_delete("/maintenance", _delete_maintenance)
    return app
