"""A throwaway rollgate project in a folder: spec, faults file, CLI calls, cleanup."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import select

from rollgate.store import runs as run_store
from rollgate.store.db import HEAD_REVISION, Database
from rollgate.store.tables import Instance, Proxy


def demo_service(port: int, faults: Path, **overrides: Any) -> dict[str, Any]:
    """A service entry running the bundled demo app with a faults file."""
    svc: dict[str, Any] = {
        "command": "{python} -m rollgate.demo serve --port {port} --version {version}",
        "port": port,
        "env": {"ROLLGATE_DEMO_FAULTS": str(faults)},
        "health": {"path": "/health", "expect_json": {"status": "ok"}, "interval": "200ms",
                   "retries": 50},
    }
    svc.update(overrides)
    return svc


class Sandbox:
    """A project folder with a spec, driven through the real ``rollgate`` CLI."""

    def __init__(self, root: Path, *, database_url: str | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.spec_path = root / "rollgate.yaml"
        self.faults_path = root / "faults.json"
        self.state_dir = root / ".rollgate"
        self.database_url = database_url
        self._db: Database | None = None
        self.set_faults({})

    # -- spec and faults ---------------------------------------------------------------------

    def write_spec(self, spec: dict[str, Any]) -> None:
        """Write the spec as YAML."""
        out = io.StringIO()
        YAML().dump(spec, out)
        self.spec_path.write_text(out.getvalue())

    def set_faults(self, faults: dict[str, dict[str, Any]]) -> None:
        """Set the demo app's faults per version (read live by running instances)."""
        tmp = self.faults_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(faults))
        tmp.replace(self.faults_path)

    # -- CLI ---------------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment a CLI call of this project runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLGATE_")}
        env.update({"ROLLGATE_SPEC": str(self.spec_path),
                    "ROLLGATE_STATE_DIR": str(self.state_dir),
                    "ROLLGATE_ACTOR": "tester", "NO_COLOR": "1"})
        if self.database_url:
            env["ROLLGATE_DATABASE_URL"] = self.database_url
        return env

    def argv(self, *args: str) -> list[str]:
        """The argv of a CLI call."""
        return [sys.executable, "-m", "rollgate", *args]

    def run(self, *args: str, timeout: float = 120, input_text: str | None = None,
            actor: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the CLI to completion (``input_text`` on its stdin; as ``actor`` instead of
        ``tester``) and capture its output."""
        env = {**self.env, "ROLLGATE_ACTOR": actor} if actor else self.env
        return subprocess.run(self.argv(*args), env=env, cwd=self.root, text=True,
                              capture_output=True, timeout=timeout, check=False,
                              input=input_text)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """Start the CLI in the background (its output goes to a log in the folder)."""
        log = open(self.root / f"cli-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
        return subprocess.Popen(self.argv(*args), env=self.env, cwd=self.root, text=True,
                                stdout=log, stderr=subprocess.STDOUT)

    def json(self, *args: str) -> Any:
        """Run a read command with --json and parse its output."""
        proc = self.run(*args, "--json")
        if proc.returncode != 0:
            raise AssertionError(f"rollgate {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return json.loads(proc.stdout)

    def store(self) -> Database:
        """The project's store, read directly (fast polling in tests)."""
        if self._db is None:
            url = self.database_url or f"sqlite:///{self.state_dir / 'rollgate.db'}"
            self._db = Database(url)
        return self._db

    def wait_for_step(self, run_id: str, name: str, state: str = "running",
                      timeout: float = 60) -> None:
        """Poll a run until one of its steps is in the given state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.store().session() as s:
                steps = run_store.list_steps(session=s, run_id=run_id)
                if any(st.name == name and st.state == state for st in steps):
                    return
            time.sleep(0.05)
        raise AssertionError(f"step {name!r} of {run_id} never became {state}")

    def latest_run(self, version: str | None = None, timeout: float = 30) -> str:
        """The id of the newest run (of a version), waiting until one exists."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Only once the CLI that creates the store has migrated it all the way: a
            # half-migrated store lacks columns the query reads.
            if self.store().revision() == HEAD_REVISION:
                with self.store().session() as s:
                    rows = run_store.list_runs(session=s, limit=1)
                    if rows and (version is None or rows[0].version == version):
                        return rows[0].id
            time.sleep(0.05)
        raise AssertionError("no run appeared")

    # -- cleanup -----------------------------------------------------------------------------

    def down(self) -> None:
        """Stop every process this project started (instances and proxies), even mid-run."""
        if self.store().revision() is not None:
            with self.store().session() as s:
                pids = [r.pid for r in s.scalars(select(Instance))]
                pids += [r.pid for r in s.scalars(select(Proxy))]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGTERM)
        if self._db is not None:
            self._db.dispose()
