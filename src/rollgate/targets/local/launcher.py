"""Start, find and stop the proxy as a detached process that outlives rollgate.

The proxy runs in its own session with stdin from /dev/null and stdout/stderr going to
its log file, so nothing ties it to the parent: the parent may exit or be SIGKILLed and
the proxy keeps routing. Readiness is read from the state file (matching the child's
pid) and confirmed on the admin ``/health`` endpoint; no pipe is held open.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from rollgate.errors import TargetError
from rollgate.targets.local import processes
from rollgate.targets.local.proxy_state import ProxyState, read_state


@dataclass(frozen=True)
class ProxyInfo:
    """Where a running proxy is: its pid, public HOST:PORT and admin base URL."""

    pid: int
    listen: str
    admin_url: str


def start_proxy(
    listen: str,
    state: Path,
    log: Path,
    *,
    admin: str = "127.0.0.1:0",
    timeout: float = 15.0,
) -> ProxyInfo:
    """Spawn a detached proxy and wait until both listeners answer; ``TargetError`` if not."""
    state, log = state.resolve(), log.resolve()
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "rollgate.targets.local.proxy",
        "--listen", listen, "--admin", admin, "--state", str(state), "--log", str(log),
    ]  # fmt: skip
    pid, _ = processes.spawn(command, env=processes.child_env(), cwd=None, log=log)
    deadline = time.monotonic() + timeout
    while True:
        code = processes.exit_code(pid)
        if code is not None:
            raise TargetError(
                f"the proxy exited with code {code} before it was ready; "
                f"fix the cause below and start it again (log: {log}):\n{processes.tail(log)}"
            )
        info = _ready(state, pid)
        if info is not None:
            return info
        if time.monotonic() > deadline:
            stop_proxy(pid, timeout=2.0)
            raise TargetError(
                f"the proxy did not become ready within {timeout:.0f} s and was stopped; "
                f"check its log {log}:\n{processes.tail(log)}"
            )
        time.sleep(0.05)


def find_proxy(state: Path) -> ProxyInfo | None:
    """Return the proxy recorded in ``state`` if it is alive and answering, else ``None``."""
    try:
        recorded = read_state(state)
    except ValueError:
        return None
    if recorded is None or not processes.alive(recorded.pid):
        return None
    return _confirm(recorded)


def stop_proxy(pid: int, *, timeout: float = 15.0) -> None:
    """SIGTERM the proxy, wait for its drain (SIGKILL after ``timeout``), reap it if ours."""
    processes.terminate(pid, None, timeout)
    if processes.alive(pid):
        raise TargetError(f"proxy pid {pid} survived SIGKILL; check it with ps")


def _ready(state: Path, pid: int) -> ProxyInfo | None:
    try:
        recorded = read_state(state)
    except ValueError:
        return None  # mid-write by an older proxy; the next poll sees the new file
    if recorded is None or recorded.pid != pid:
        return None
    return _confirm(recorded)


def _confirm(recorded: ProxyState) -> ProxyInfo | None:
    try:
        with httpx.Client(timeout=1.0, trust_env=False, verify=False) as http:
            health = http.get(f"{recorded.admin_url}/health").json()
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(health, dict) or health.get("pid") != recorded.pid:
        return None
    return ProxyInfo(pid=recorded.pid, listen=recorded.listen, admin_url=recorded.admin_url)
