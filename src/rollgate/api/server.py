"""``rollgate serve``: the API, the engine that drives its runs, and the background worker."""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from rollgate.api.app import create_app
from rollgate.api.worker import Worker
from rollgate.engine.runtime import Runtime, exit_abandoning
from rollgate.errors import UsageError
from rollgate.runs.service import Project
from rollgate.settings import Settings

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


def serve(settings: Settings, project_loader: Callable[[], Project], *, host: str,
          port: int) -> None:
    """Serve until SIGINT or SIGTERM; then stop the worker and close the runtime."""
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("rollgate").setLevel(logging.INFO)
    project_loader()  # a broken spec stops here, with its line-numbered error
    sock = bind(host, port)
    # uvicorn re-raises the signal it caught once it has shut down; these handlers turn
    # that into a clean return instead of a kill (SIGTERM) or a traceback (SIGINT).
    previous = {sig: signal.signal(sig, _stop) for sig in _STOP_SIGNALS}
    rt: Runtime | None = None
    worker: Worker | None = None
    try:
        rt = Runtime(settings, kind="serve")
        rt.start_engine()
        worker = Worker(rt, project_loader)
        worker.start()
        config = uvicorn.Config(create_app(rt, project_loader), log_level="warning",
                                access_log=False, timeout_graceful_shutdown=5)
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
        if worker is not None:
            worker.stop()
        sock.close()
        driven = rt.close() if rt is not None else []
    if driven:
        exit_abandoning(driven, 0)
