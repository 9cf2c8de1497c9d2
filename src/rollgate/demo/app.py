"""The demo service: a tiny JSON API whose versions can be made to misbehave.

GET  /health          200 {"status": "ok", "version"} or 503 {"status": "failing"}
GET  /version         {"version"}
GET  /                a greeting
GET  /api/items       {"items": [...]}
POST /api/items       {"name": ...} -> 201 the new item
GET  /api/slow?ms=N   answers after N ms
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from rollgate.demo.faults import FAULTS_ENV, FaultsFile

log = logging.getLogger(__name__)

_VERSION = web.AppKey("version", str)
_FAULTS = web.AppKey("faults", FaultsFile)
_ITEMS = web.AppKey("items", list[dict[str, Any]])

CRASH_EXIT_CODE = 3
MAX_SLOW_MS = 60_000
DRAIN_SECONDS = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/health":
        return await handler(request)
    faults = request.app[_FAULTS].current()
    if faults.latency_ms > 0:
        await asyncio.sleep(faults.latency_ms / 1000.0)
    if faults.error_rate > 0 and random.random() < faults.error_rate:
        return web.json_response(
            {"error": "injected fault", "version": request.app[_VERSION]}, status=500
        )
    return await handler(request)


async def _health(request: web.Request) -> web.Response:
    if request.app[_FAULTS].current().health == "fail":
        return web.json_response({"status": "failing"}, status=503)
    return web.json_response({"status": "ok", "version": request.app[_VERSION]})


async def _version(request: web.Request) -> web.Response:
    return web.json_response({"version": request.app[_VERSION]})


async def _index(request: web.Request) -> web.Response:
    version = request.app[_VERSION]
    return web.json_response({"message": f"hello from the rollgate demo {version}"})


async def _list_items(request: web.Request) -> web.Response:
    return web.json_response({"items": request.app[_ITEMS]})


async def _add_item(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": 'body must be JSON like {"name": "x"}'}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return web.json_response({"error": 'body must be JSON like {"name": "x"}'}, status=400)
    items = request.app[_ITEMS]
    item = {"id": len(items) + 1, "name": body["name"], "version": request.app[_VERSION]}
    items.append(item)
    return web.json_response(item, status=201)


async def _slow(request: web.Request) -> web.Response:
    raw = request.query.get("ms", "100")
    if not raw.isdigit() or int(raw) > MAX_SLOW_MS:
        return web.json_response({"error": f"ms must be 0..{MAX_SLOW_MS}"}, status=400)
    await asyncio.sleep(int(raw) / 1000.0)
    return web.json_response({"slept_ms": int(raw), "version": request.app[_VERSION]})


def create_app(version: str, faults: FaultsFile) -> web.Application:
    """Return the demo application for one version."""
    app = web.Application(middlewares=[_inject_faults])
    app[_VERSION] = version
    app[_FAULTS] = faults
    app[_ITEMS] = []
    app.router.add_get("/health", _health)
    app.router.add_get("/version", _version)
    app.router.add_get("/", _index)
    app.router.add_get("/api/items", _list_items)
    app.router.add_post("/api/items", _add_item)
    app.router.add_get("/api/slow", _slow)
    return app


def faults_path(cli_value: str | None) -> Path | None:
    """Return the faults file from ``--faults`` or ``ROLLGATE_DEMO_FAULTS``, if any."""
    value = cli_value or os.environ.get(FAULTS_ENV)
    return Path(value) if value else None


async def serve(host: str, port: int, version: str, faults: FaultsFile) -> None:
    """Listen until SIGTERM/SIGINT, print a ready line, then drain for up to 10 s."""
    delay = faults.current().start_delay
    if delay > 0:
        log.info("start_delay fault: waiting %.1f s before listening", delay)
        await asyncio.sleep(delay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app = create_app(version, faults)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=DRAIN_SECONDS)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        ready = {"event": "ready", "version": version, "port": bound, "pid": os.getpid()}
        try:
            print(json.dumps(ready), flush=True)
        except OSError:  # whoever started us stopped reading; keep serving
            log.warning("could not print the ready line; stdout is gone")
        log.info("demo %s listening on %s:%s", version, host, bound)
        await stop.wait()
        log.info("demo %s stopping", version)
    finally:
        await runner.cleanup()


def run(*, host: str, port: int, version: str, faults: str | None) -> int:
    """Run the demo service; return the process exit code (3 on the crash_at_start fault)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s demo %(name)s %(message)s"
    )
    source = FaultsFile(faults_path(faults), version)
    if source.current().crash_at_start:
        print(
            f"rollgate demo {version}: crash_at_start fault is set in {source.path}; exiting",
            file=sys.stderr,
            flush=True,
        )
        return CRASH_EXIT_CODE
    try:
        asyncio.run(serve(host, port, version, source))
    except OSError as exc:
        print(f"rollgate demo {version}: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0
