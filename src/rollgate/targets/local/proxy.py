"""rollgate's traffic-splitting reverse proxy, run as its own long-lived process.

    python -m rollgate.targets.local.proxy --listen 127.0.0.1:8080 --admin 127.0.0.1:0 \\
        --state /path/proxy.json [--log FILE] [--log-level INFO] [--loop auto|asyncio|uvloop]

The admin listener binds first, then the public one; once both listen, the proxy writes
the state file and prints one JSON line, ``{"event": "ready", "listen", "admin", "pid"}``.
SIGTERM or SIGINT stops accepting, lets in-flight requests finish for up to 10 s and exits.
Routes and maintenance mode are resumed from the state file when it exists.
uvloop is used when installed (about 10% less CPU per request); asyncio's loop otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from rollgate.targets.local.proxy_admin import build_admin_app
from rollgate.targets.local.proxy_forward import Forwarder, new_session
from rollgate.targets.local.proxy_maintenance import Maintenance
from rollgate.targets.local.proxy_metrics import build_registry, render
from rollgate.targets.local.proxy_routes import RouteTable
from rollgate.targets.local.proxy_state import ProxyState, read_state, write_state
from rollgate.targets.local.proxy_stats import ProxyStats

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0


class ProxyStartError(Exception):
    """The proxy could not start (bad state file, address in use)."""


def parse_address(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` into its parts; ``ValueError`` if it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


class ProxyServer:
    """The routing table, maintenance mode, statistics and both listeners of one proxy."""

    def __init__(
        self, state_path: Path, table: RouteTable, maintenance: Maintenance | None = None
    ) -> None:
        self._state_path = state_path
        self._table = table
        self._maintenance = maintenance
        self._stats = ProxyStats()
        self._registry = build_registry(self._stats, self.routes, self.maintenance)
        self._started = time.monotonic()
        self.listen = ""
        self.admin = ""

    def routes(self) -> RouteTable:
        """Return the current routing table."""
        return self._table

    def replace_routes(self, table: RouteTable) -> None:
        """Swap the table in one assignment (in-flight requests keep their backend), save it."""
        self._table = table
        self._save()
        log.info("routes replaced: %s", json.dumps(table.to_json()["backends"]))

    def maintenance(self) -> Maintenance | None:
        """Return the maintenance state; ``None`` while traffic is forwarded."""
        return self._maintenance

    def set_maintenance(self, message: str | None) -> Maintenance | None:
        """Turn maintenance on with ``message`` (or off with ``None``) in one assignment, save it.

        Changing the message while on keeps ``since``. Requests already forwarded finish.
        """
        current = self._maintenance
        if message is None:
            self._maintenance = None
            if current is not None:
                log.info("maintenance off after %.1f s", time.time() - current.since)
        else:
            since = current.since if current is not None else time.time()
            self._maintenance = Maintenance(message=message, since=since)
            log.info("maintenance on: %s", json.dumps(message))
        self._save()
        return self._maintenance

    def health(self) -> dict[str, Any]:
        """Return the admin health body."""
        return {
            "status": "ok",
            "pid": os.getpid(),
            "listen": self.listen,
            "admin": self.admin,
            "uptime_s": round(time.monotonic() - self._started, 3),
        }

    def stats(self, window: float) -> dict[str, Any]:
        """Return per-version statistics over ``window`` seconds and since start."""
        known = tuple(b.version for b in self._table.backends)
        return self._stats.summary(window, time.monotonic(), known)

    def metrics(self) -> bytes:
        """Return the Prometheus exposition."""
        return render(self._registry)

    def _save(self) -> None:
        state = ProxyState(
            pid=os.getpid(),
            listen=self.listen,
            admin=self.admin,
            backends=self._table.backends,
            maintenance=self._maintenance,
        )
        write_state(self._state_path, state)

    async def run(
        self, listen: tuple[str, int], admin: tuple[str, int], stop: asyncio.Event
    ) -> None:
        """Serve until ``stop`` is set, then drain in-flight requests and close."""
        admin_runner = web.AppRunner(build_admin_app(self), access_log=None, shutdown_timeout=1.0)
        await admin_runner.setup()
        session = new_session()
        public_runner = web.ServerRunner(
            web.Server(
                Forwarder(session, self._stats, self.routes, self.maintenance),
                access_log=None,
                auto_decompress=False,
            ),
            shutdown_timeout=DRAIN_SECONDS,
        )
        await public_runner.setup()
        try:
            self.admin = await _start_site(admin_runner, admin, "admin")
            self.listen = await _start_site(public_runner, listen, "public")
            self._save()
            ready = {"event": "ready", "listen": self.listen, "admin": self.admin}
            _announce({**ready, "pid": os.getpid()})
            log.info("proxy ready: listen %s, admin %s", self.listen, self.admin)
            await stop.wait()
            log.info("stopping: no new connections, draining for up to %.0f s", DRAIN_SECONDS)
        finally:
            await public_runner.cleanup()
            await session.close()
            await admin_runner.cleanup()
        log.info("proxy stopped")


async def _start_site(runner: web.BaseRunner, address: tuple[str, int], name: str) -> str:
    site = web.TCPSite(runner, address[0], address[1], backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        where = f"{address[0]}:{address[1]}"
        raise ProxyStartError(f"cannot listen on {where} ({name}): {exc}") from exc
    host, port = runner.addresses[-1][:2]
    return f"{host}:{port}"


def _announce(event: dict[str, Any]) -> None:
    try:
        print(json.dumps(event), flush=True)
    except OSError:
        log.warning("could not print the ready line; stdout is gone")


async def _serve(args: argparse.Namespace) -> None:
    state_path = Path(args.state)
    try:
        previous = read_state(state_path)
    except ValueError as exc:
        raise ProxyStartError(f"{exc}; fix or delete it to start with no routes") from exc
    table = RouteTable(previous.backends if previous else ())
    maintenance = previous.maintenance if previous else None
    if previous:
        log.info("resuming %d backend(s) from %s", len(table.backends), state_path)
    if maintenance is not None:
        log.info("resuming in maintenance mode: %s", json.dumps(maintenance.message))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await ProxyServer(state_path, table, maintenance).run(args.listen, args.admin, stop)


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rollgate.targets.local.proxy",
        description="rollgate's traffic-splitting reverse proxy",
    )
    parser.add_argument("--listen", type=_address, required=True, help="public HOST:PORT")
    parser.add_argument(
        "--admin", type=_address, default=("127.0.0.1", 0), help="admin HOST:PORT (0 = any free)"
    )
    parser.add_argument("--state", required=True, help="state file (routes, addresses, pid)")
    parser.add_argument("--log", help="log file (default: stderr)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop: uvloop when installed (auto), or force one",
    )
    return parser.parse_args(argv)


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """Return uvloop's loop factory when wanted and installed; None means asyncio's own."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SystemExit("rollgate proxy: --loop uvloop needs `pip install uvloop`") from None
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    """Run the proxy until SIGTERM; return the process exit code."""
    args = _parse_args(argv)
    logging.basicConfig(
        filename=args.log,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args.loop)) as runner:
            runner.run(_serve(args))
    except ProxyStartError as exc:
        log.error("%s", exc)
        print(f"rollgate proxy: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    # Run the imported module, not this ``__main__`` copy, so loggers carry the real name.
    from rollgate.targets.local.proxy import main as _main

    sys.exit(_main())
