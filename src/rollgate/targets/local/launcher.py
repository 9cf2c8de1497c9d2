"""Start, find and stop the proxy as a detached process that outlives rollgate.

The proxy runs in its own session with stdin from /dev/null and stdout/stderr going to
its log file, so nothing ties it to the parent: the parent may exit or be SIGKILLed and
the proxy keeps routing. Readiness is read from the state file (matching the child's
pid) and confirmed on the admin ``/health`` endpoint; no pipe is held open.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx

import rollgate
from rollgate.errors import TargetError
from rollgate.targets.local.proxy_state import ProxyState, read_state

# Children started by this process, kept so they are reaped (no zombies) when stopped here.
_children: dict[int, subprocess.Popen[bytes]] = {}


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
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            close_fds=True,
            env=_child_env(),
        )
    _children[process.pid] = process
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            _children.pop(process.pid, None)
            raise TargetError(
                f"the proxy exited with code {code} before it was ready; "
                f"fix the cause below and start it again (log: {log}):\n{_tail(log)}"
            )
        info = _ready(state, process.pid)
        if info is not None:
            return info
        if time.monotonic() > deadline:
            stop_proxy(process.pid, timeout=2.0)
            raise TargetError(
                f"the proxy did not become ready within {timeout:.0f} s and was stopped; "
                f"check its log {log}:\n{_tail(log)}"
            )
        time.sleep(0.05)


def find_proxy(state: Path) -> ProxyInfo | None:
    """Return the proxy recorded in ``state`` if it is alive and answering, else ``None``."""
    try:
        recorded = read_state(state)
    except ValueError:
        return None
    if recorded is None or not _alive(recorded.pid):
        return None
    return _confirm(recorded)


def stop_proxy(pid: int, *, timeout: float = 15.0) -> None:
    """SIGTERM the proxy, wait for its drain (SIGKILL after ``timeout``), reap it if ours."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        _reap(pid)
        return
    deadline = time.monotonic() + timeout
    killed = False
    while _alive(pid):
        if time.monotonic() > deadline:
            if killed:
                raise TargetError(f"proxy pid {pid} survived SIGKILL; check it with ps")
            os.kill(pid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + 5.0
        time.sleep(0.05)


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


def _alive(pid: int) -> bool:
    if _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """True if ``pid`` has exited but nobody reaped it (a container init may not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def _reap(pid: int) -> bool:
    """Collect the exit status of our own child if it has exited; True if it has."""
    process = _children.get(pid)
    if process is not None:
        if process.poll() is None:
            return False
        del _children[pid]
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # not our child: whoever started it reaps it
    return done == pid


def _tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip()
    except OSError as exc:
        return f"(cannot read the log: {exc})"


def _child_env() -> dict[str, str]:
    # rollgate may run from a source tree (PYTHONPATH=src); the child must import it too.
    env = dict(os.environ)
    root = str(Path(rollgate.__file__).resolve().parent.parent)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env
