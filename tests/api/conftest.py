"""A real ``rollgate serve`` process over a sandbox project, and an HTTP client for it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service

TERMINAL = {"succeeded", "failed", "rolled_back", "cancelled"}
FAULTS: dict[str, dict[str, Any]] = {"v2": {"start_delay": 3}, "v3": {"health": "fail"}}


class ApiServer:
    """``rollgate serve`` on a free port, with helpers to call and follow it."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = box.root / "serve.log"
        self.proc: subprocess.Popen[str] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def start(self, timeout: float = 60) -> None:
        """Start the server and wait until it answers."""
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(self.box.argv("serve", "--port", str(self.port)),
                                     env=self.box.env, cwd=self.box.root, text=True,
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                if self.http.get("/api/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not answer in {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM the server and return its exit code (SIGKILL when it hangs)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def act_as_admin(self, name: str = "admin") -> None:
        """Add an admin of every environment (the server leaves open mode: every route but
        the public ones needs credentials) and send its token with every request."""
        from rollgate.auth import service as accounts

        db = self.box.store()
        accounts.add_user(db, name=name, password="correct horse battery", role="admin",
                          environment="*", actor="test")
        token = accounts.create_token(db, user=name, name="tests", expires_in_days=1,
                                      actor="test")
        self.http.headers["Authorization"] = f"Bearer {token.token}"

    def log(self) -> str:
        """What the server printed."""
        return self.log_path.read_text() if self.log_path.exists() else ""

    # -- API helpers -------------------------------------------------------------------------

    def deploy(self, version: str, **headers: str) -> dict[str, Any]:
        """Start a deploy of web to production; return the run."""
        resp = self.http.post("/api/deploys", headers=headers, json={
            "service": "web", "environment": "production", "version": version})
        assert resp.status_code == 202, resp.text
        return dict(resp.json())

    def wait(self, run_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll a run until it ends; return it with its steps."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.http.get(f"/api/runs/{run_id}").json()
            if run["status"] in TERMINAL:
                return dict(run)
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not end in {timeout}s:\n{self.log()}")

    def deployed(self, version: str) -> dict[str, Any]:
        """Deploy a version and wait for it to succeed."""
        run = self.wait(self.deploy(version)["id"])
        assert run["status"] == "succeeded", run
        return run

    def events(self, run_id: str, timeout: float = 60) -> list[tuple[str, dict[str, Any]]]:
        """Follow a run's SSE stream to its end: (event, data) pairs in arrival order."""
        found: list[tuple[str, dict[str, Any]]] = []
        kind, data = "message", list[str]()
        with self.http.stream("GET", f"/api/runs/{run_id}/events",
                              timeout=httpx.Timeout(timeout)) as resp:
            assert resp.status_code == 200, resp.read()
            assert resp.headers["content-type"].startswith("text/event-stream")
            for line in resp.iter_lines():
                if line.startswith(":"):
                    continue  # a keep-alive comment
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data.append(line.partition(":")[2].removeprefix(" "))
                elif not line and data:
                    found.append((kind, json.loads("\n".join(data))))
                    kind, data = "message", []
        return found

    def close(self) -> None:
        """End the runs still going, stop the server and close the client (also after a
        start that failed)."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.finish_active_runs()
        finally:
            if self.proc is not None:
                self.stop()
            self.http.close()

    def finish_active_runs(self) -> None:
        """Cancel what still runs, so the project can be brought down."""
        runs = self.http.get("/api/runs", params={"limit": 500}).json()["items"]
        for run in runs:
            if run["status"] not in TERMINAL:
                self.http.post(f"/api/runs/{run['id']}/cancel")
                self.wait(run["id"], timeout=60)


def write_spec(box: Sandbox) -> None:
    """The one-service, blue-green spec of the API tests."""
    box.write_spec({
        "project": "t",
        "services": {"web": demo_service(free_port(), box.faults_path)},
        "environments": {"production": {"strategy": {"kind": "blue-green",
                                                     "keep_warm": "1m"}}},
    })
    box.set_faults(FAULTS)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[ApiServer]:
    """A running server; afterwards its runs are ended, it is stopped and the project down."""
    write_spec(sandbox)
    server = ApiServer(sandbox)
    try:
        server.start()
        yield server
    finally:
        server.close()  # the sandbox fixture then runs `rollgate down`, kills what is left
