"""``rollgate serve``: the API, the engine that drives its runs, and the background workers."""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from rollgate.api.app import create_app
from rollgate.api.worker import NotifyWorker, Worker
from rollgate.auth import service as auth_service
from rollgate.engine.runtime import Runtime, exit_abandoning
from rollgate.errors import UsageError
from rollgate.runs.service import Project
from rollgate.settings import Settings
from rollgate.store.db import Database

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stopped(Exception):
    """SIGINT or SIGTERM: uvicorn has shut down gracefully; now stop the rest."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signum)


def bind(host: str, port: int) -> socket.socket:
    """Listen on host:port now, so a busy port fails before the engine starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; "
                         f"choose another --port or --host") from exc
    return sock


def is_loopback(host: str) -> bool:
    """True when ``host`` only reaches this machine (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0])).is_loopback
                               for info in infos)


def refuse_open_exposure(settings: Settings, host: str) -> None:
    """Refuse a non-loopback address while the store has no users (open mode: no auth)."""
    if is_loopback(host):
        return
    db = Database(settings.resolved_database_url())
    try:
        if db.revision() is None:
            open_mode = True  # a store not created yet has no users
        else:
            db.migrate()
            open_mode = auth_service.is_open(db)
    finally:
        db.dispose()
    if open_mode:
        raise UsageError(
            f"refusing to listen on {host}: the server has no users yet, so anyone who can "
            "reach it could deploy as admin. Add one first with `rollgate users add NAME "
            "--role admin` (then every request needs credentials), or serve on 127.0.0.1")


def serve(settings: Settings, project_loader: Callable[[], Project], *, host: str,
          port: int) -> None:
    """Serve until SIGINT or SIGTERM; then stop the workers and close the runtime."""
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("rollgate").setLevel(logging.INFO)
    project_loader()  # a broken spec stops here, with its line-numbered error
    refuse_open_exposure(settings, host)
    sock = bind(host, port)
    # uvicorn re-raises the signal it caught once it has shut down; these handlers turn
    # that into a clean return instead of a kill (SIGTERM) or a traceback (SIGINT).
    previous = {sig: signal.signal(sig, _stop) for sig in _STOP_SIGNALS}
    rt: Runtime | None = None
    workers: list[Worker | NotifyWorker] = []
    try:
        rt = Runtime(settings, kind="serve")
        rt.start_engine()
        workers = [Worker(rt, project_loader), NotifyWorker(rt, project_loader)]
        for worker in workers:
            worker.start()
        config = uvicorn.Config(create_app(rt, project_loader), log_level="warning",
                                access_log=False, timeout_graceful_shutdown=5,
                                proxy_headers=True,
                                forwarded_allow_ips=settings.trusted_proxies)
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        print(f"rollgate serve: http://{shown}:{bound} (API docs at /docs); "
              f"executor {rt.executor_id}", flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for worker in workers:
            worker.stop()
        sock.close()
        driven = rt.close() if rt is not None else []
    if driven:
        exit_abandoning(driven, 0)
