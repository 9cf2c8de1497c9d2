"""Detached child processes: spawn, identify (pid + kernel start time), reap, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path

import rollgate

# Children started by this process, kept so that they are reaped (no zombies) once they exit.
_children: dict[int, subprocess.Popen[bytes]] = {}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child that must import rollgate too."""
    # rollgate may run from a source tree (PYTHONPATH=src); the child must find it as well.
    env = dict(os.environ)
    root = str(Path(rollgate.__file__).resolve().parent.parent)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    env.update(extra or {})
    return env


def start_time(pid: int) -> float:
    """The kernel's start time of a live process (clock ticks since boot); 0 when gone."""
    reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited, not reaped by its parent yet
        return 0.0
    return float(fields[19])


def alive(pid: int, started: float | None = None) -> bool:
    """True when the process runs (and, given ``started``, is that one, not a reused pid)."""
    now = start_time(pid) if pid > 0 else 0.0
    return now > 0 and (started is None or now == started)


def spawn(
    argv: list[str], *, env: dict[str, str], cwd: Path | None, log: Path
) -> tuple[int, float]:
    """Start a process in its own session so it outlives rollgate; return (pid, start time)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True, close_fds=True,
        )
    _children[proc.pid] = proc
    return proc.pid, start_time(proc.pid)


def reap(pid: int) -> bool:
    """Collect the exit status of our own child if it has exited; True if it has."""
    proc = _children.get(pid)
    if proc is not None:
        return proc.poll() is not None
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # not our child: whoever started it reaps it
    return done == pid


def exit_code(pid: int) -> int | None:
    """The exit code of a child of this process that has exited, if known."""
    proc = _children.get(pid)
    return proc.poll() if proc is not None else None


def terminate(pid: int, started: float | None, grace: float) -> None:
    """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL it."""
    if not alive(pid, started):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(pid, started):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5.0
    while alive(pid, started) and time.monotonic() < deadline:
        time.sleep(0.05)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip()
    except OSError as exc:
        return f"(cannot read the log: {exc})"
