"""The demo service: a tiny JSON API whose versions can be made to misbehave.

GET  /health          200 {"status": "ok", "version"} or 503 {"status": "failing"}
GET  /version         {"version"}
GET  /                a greeting
GET  /api/items       {"items": [...]}, ordered by id
POST /api/items       {"name": ...} -> 201 the new item
GET  /api/slow?ms=N   answers after N ms

Items live in memory, unless ``DEMO_DATABASE`` names a SQLite file: then they are rows of
its table ``items`` (id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT, created_at
TEXT, and any further columns, returned as they are). The app never creates the file or
the table, nor alters either: migrations own the schema. Without the table, /api/items
answers 503 {"error": "database not migrated: no table items", "detail"}; any other
database failure (file missing or unreadable, locked for longer than 5 s) answers 503
{"error": "database unavailable: ...", "detail"}. Each statement runs on a connection of
its own, in autocommit, in a worker thread: no transaction stays open between requests, so
another process may restore the file with SQLite's online backup API while the app runs
(statements wait for its lock for up to 5 s). /health then also reports "database": "ok",
or "unreachable" with status "failing", a "detail" and HTTP 503 when the file cannot be
opened and read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from rollgate.demo.faults import FAULTS_ENV, FaultsFile

log = logging.getLogger(__name__)

DATABASE_ENV = "DEMO_DATABASE"
CRASH_EXIT_CODE = 3
MAX_SLOW_MS = 60_000
DRAIN_SECONDS = 10.0
BUSY_TIMEOUT_SECONDS = 5.0
NOT_MIGRATED = "database not migrated: no table items"


class ItemStore(Protocol):
    """Where /api/items keeps its items."""

    async def all(self) -> list[dict[str, Any]]:
        """Return every item, ordered by id."""
        ...

    async def add(self, name: str, version: str) -> dict[str, Any]:
        """Store a new item and return it."""
        ...


class MemoryItems:
    """Items in a list, gone when the process exits (the default)."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []

    async def all(self) -> list[dict[str, Any]]:
        """Return every item, ordered by id."""
        return list(self._items)

    async def add(self, name: str, version: str) -> dict[str, Any]:
        """Append a new item and return it."""
        item = {"id": len(self._items) + 1, "name": name, "version": version}
        self._items.append(item)
        return item


class SqliteItems:
    """Items in table ``items`` of a SQLite file that migrations created.

    Every call opens its own autocommit connection in a worker thread: the event loop
    never waits on a lock, and no transaction outlives its one statement. ``sqlite3.Error``
    is raised as it comes (see :func:`_database_error`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()
        # mode=rw: a missing file is an error, never silently created empty.
        self._uri = f"{self.path.as_uri()}?mode=rw"

    async def all(self) -> list[dict[str, Any]]:
        """Return every row, ordered by id."""
        return await asyncio.to_thread(self._select_all)

    async def add(self, name: str, version: str) -> dict[str, Any]:
        """Insert a row and return it as stored."""
        return await asyncio.to_thread(self._insert, name, version)

    async def check(self) -> None:
        """Open the file and read its schema; ``sqlite3.Error`` if that fails."""
        await asyncio.to_thread(self._read_schema)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(
            self._uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
        try:
            connection.row_factory = sqlite3.Row
            yield connection
        finally:
            connection.close()

    def _select_all(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return [dict(row) for row in db.execute("SELECT * FROM items ORDER BY id")]

    def _insert(self, name: str, version: str) -> dict[str, Any]:
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._connect() as db:
            rows = db.execute(
                "INSERT INTO items (name, version, created_at) VALUES (?, ?, ?) RETURNING *",
                (name, version, created_at),
            ).fetchall()  # to the end, so the statement (and its transaction) completes
        return dict(rows[0])

    def _read_schema(self) -> None:
        with self._connect() as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()


_VERSION = web.AppKey("version", str)
_FAULTS = web.AppKey("faults", FaultsFile)
_ITEMS = web.AppKey[ItemStore]("items")

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
    failing = request.app[_FAULTS].current().health == "fail"
    body: dict[str, Any] = (
        {"status": "failing"} if failing else {"status": "ok", "version": request.app[_VERSION]}
    )
    store = request.app[_ITEMS]
    if isinstance(store, SqliteItems):
        try:
            await store.check()
        except sqlite3.Error as exc:
            log.warning("health: database %s unreachable: %s", store.path, exc)
            body.update(status="failing", database="unreachable", detail=str(exc))
            failing = True
        else:
            body["database"] = "ok"
    return web.json_response(body, status=503 if failing else 200)


async def _version(request: web.Request) -> web.Response:
    return web.json_response({"version": request.app[_VERSION]})


async def _index(request: web.Request) -> web.Response:
    version = request.app[_VERSION]
    return web.json_response({"message": f"hello from the rollgate demo {version}"})


def _database_error(exc: sqlite3.Error) -> web.Response:
    """Answer 503 for a database failure; a missing table says to run the migrations."""
    text = str(exc)
    missing = text.removeprefix("no such table: ").removeprefix("main.")
    if isinstance(exc, sqlite3.OperationalError) and missing == "items":
        detail = "the demo never creates tables; run the migrations that create items"
        return web.json_response({"error": NOT_MIGRATED, "detail": detail}, status=503)
    log.warning("items: database error: %s", text)
    detail = f"the SQLite file ${DATABASE_ENV} names could not be used; see the demo's log"
    return web.json_response(
        {"error": f"database unavailable: {text}", "detail": detail}, status=503
    )


async def _list_items(request: web.Request) -> web.Response:
    try:
        items = await request.app[_ITEMS].all()
    except sqlite3.Error as exc:
        return _database_error(exc)
    return web.json_response({"items": items})


async def _add_item(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": 'body must be JSON like {"name": "x"}'}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return web.json_response({"error": 'body must be JSON like {"name": "x"}'}, status=400)
    try:
        item = await request.app[_ITEMS].add(body["name"], request.app[_VERSION])
    except sqlite3.Error as exc:
        return _database_error(exc)
    return web.json_response(item, status=201)


async def _slow(request: web.Request) -> web.Response:
    raw = request.query.get("ms", "100")
    if not raw.isdigit() or int(raw) > MAX_SLOW_MS:
        return web.json_response({"error": f"ms must be 0..{MAX_SLOW_MS}"}, status=400)
    await asyncio.sleep(int(raw) / 1000.0)
    return web.json_response({"slept_ms": int(raw), "version": request.app[_VERSION]})


def create_app(version: str, faults: FaultsFile, database: Path | None = None) -> web.Application:
    """Return the demo application for one version; items in ``database`` if given."""
    app = web.Application(middlewares=[_inject_faults])
    app[_VERSION] = version
    app[_FAULTS] = faults
    app[_ITEMS] = SqliteItems(database) if database is not None else MemoryItems()
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


def database_path() -> Path | None:
    """Return the SQLite file from ``DEMO_DATABASE``, if set (items are in memory otherwise)."""
    value = os.environ.get(DATABASE_ENV)
    return Path(value) if value else None


async def serve(
    host: str, port: int, version: str, faults: FaultsFile, database: Path | None = None
) -> None:
    """Listen until SIGTERM/SIGINT, print a ready line, then drain for up to 10 s."""
    delay = faults.current().start_delay
    if delay > 0:
        log.info("start_delay fault: waiting %.1f s before listening", delay)
        await asyncio.sleep(delay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app = create_app(version, faults, database)
    if database is not None:
        log.info("items are kept in table items of %s", database)
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
        asyncio.run(serve(host, port, version, source, database_path()))
    except OSError as exc:
        print(f"rollgate demo {version}: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0
