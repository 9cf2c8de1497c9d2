"""Run the demo service as a child process, for tests, benchmarks and scenarios."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rollgate.errors import TargetError
from rollgate.targets.local import processes


@dataclass
class DemoProcess:
    """A running demo service child: its process, version and port."""

    process: subprocess.Popen[bytes]
    version: str
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """Return the base URL the demo answers on."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM the demo, wait for its graceful exit (SIGKILL after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start_demo(
    version: str,
    *,
    port: int = 0,
    faults: Path | None = None,
    host: str = "127.0.0.1",
    timeout: float = 15.0,
    log: Path | None = None,
) -> DemoProcess:
    """Start ``python -m rollgate.demo serve`` and wait for its ready line."""
    command = [
        sys.executable, "-m", "rollgate.demo", "serve",
        "--host", host, "--port", str(port), "--version", version,
    ]  # fmt: skip
    if faults is not None:
        command += ["--faults", str(faults)]
    stderr = log.open("ab") if log is not None else None
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=processes.child_env(),
        )
    finally:
        if stderr is not None:
            stderr.close()
    line = _read_line(process.stdout, timeout) if process.stdout is not None else b""
    if not line:
        process.kill()
        code = process.wait()
        if process.stdout is not None:
            process.stdout.close()
        raise TargetError(
            f"demo {version} did not start (exit code {code}); see its stderr"
            + (f" in {log}" if log else "")
        )
    ready = json.loads(line)
    return DemoProcess(process=process, version=version, port=int(ready["port"]), host=host)


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """Read one line from a child's stdout, giving up after ``timeout`` seconds."""
    fileno = stream.fileno()
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fileno, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return b""
            chunk = os.read(fileno, 4096)
            if not chunk:
                return b""
            buffer += chunk
    return buffer.split(b"\n", 1)[0]
