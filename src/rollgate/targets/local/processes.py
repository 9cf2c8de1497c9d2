"""Detached child processes: spawn, identify (pid + start time), stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_time(pid: int) -> float:
    """The kernel's start time of a process (clock ticks since boot), 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return 0.0
    return float(fields[19])


def alive(pid: int, started: float) -> bool:
    """True when the process exists and is the one started then (not a reused pid)."""
    return pid > 0 and started > 0 and start_time(pid) == started


def spawn(
    argv: list[str], *, env: dict[str, str], cwd: Path | None, log: Path
) -> tuple[int, float]:
    """Start a process in its own session so it outlives rollgate; return (pid, start time)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )
    # The child is not waited on by us: reap it in the background if it exits early.
    _reap_later(proc)
    return proc.pid, start_time(proc.pid)


_children: list[subprocess.Popen[bytes]] = []


def _reap_later(proc: subprocess.Popen[bytes]) -> None:
    _children.append(proc)
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)


def exit_code(pid: int) -> int | None:
    """The exit code of a child of this process that has exited, if known."""
    for child in _children:
        if child.pid == pid:
            return child.poll()
    return None


def terminate(pid: int, started: float, grace: float) -> None:
    """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL."""
    if not alive(pid, started):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for child in _children:
            if child.pid == pid:
                child.poll()
        if not alive(pid, started):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
