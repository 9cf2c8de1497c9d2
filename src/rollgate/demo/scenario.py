"""``make demo``: deploy v1, blue-green to v2, refuse a broken v3, roll back to v1.

Everything goes through the real ``rollgate`` CLI against the embedded default (SQLite store,
local target, rollgate's own proxy), with a client loop hitting the public port throughout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from rollgate.demo.load import LoadLoop
from rollgate.targets.local.processes import free_port
from rollgate.testing.sandbox import Sandbox, demo_service

console = Console(highlight=False)


def _act(box: Sandbox, title: str, args: list[str], expect: int) -> bool:
    console.print(Rule(f"[bold]{title}[/]"))
    console.print(f"$ rollgate {' '.join(args)}", style="cyan")
    started = time.monotonic()
    code = subprocess.run(box.argv(*args), env=box.env, cwd=box.root, check=False).returncode
    took = time.monotonic() - started
    ok = code == expect
    verdict = "as expected" if ok else f"UNEXPECTED (wanted {expect})"
    console.print(f"exit code {code} {verdict} · {took:.1f}s",
                  style="green" if ok else "bold red")
    return ok


def run_scenario(workdir: Path) -> int:
    """Run the demo in ``workdir``; return 0 when every act ended as expected."""
    port = free_port()
    box = Sandbox(workdir)
    box.write_spec({
        "project": "demo",
        "services": {"web": demo_service(port, box.faults_path)},
        "environments": {"production": {"strategy": {"kind": "blue-green",
                                                     "keep_warm": "10m"}}},
    })
    box.set_faults({"v3": {"health": "fail"}})
    console.print(f"workspace {workdir} · public URL http://127.0.0.1:{port}/ · "
                  f"spec {box.spec_path}")
    acts = [
        ("deploy v1", ["deploy", "web", "--env", "production", "--version", "v1"], 0),
        ("blue-green to v2 (healthy: promoted, v1 kept warm)",
         ["deploy", "web", "--env", "production", "--version", "v2"], 0),
        ("v3 fails its health check: refused, traffic stays on v2",
         ["deploy", "web", "--env", "production", "--version", "v3"], 1),
        ("roll back to v1 with a reason (switch to the warm slot)",
         ["rollback", "web", "--env", "production", "--to", "v1", "--reason",
          "demo: customers report errors since v2", "--yes"], 0),
    ]
    results = []
    load: LoadLoop | None = None
    try:
        for index, (title, args, expect) in enumerate(acts):
            results.append(_act(box, title, args, expect))
            if index == 0:
                load = LoadLoop(f"http://127.0.0.1:{port}/", concurrency=2, rate=50,
                                max_seconds=300).start()
        summary = load.stop() if load else None
        console.print(Rule("[bold]what happened[/]"))
        subprocess.run(box.argv("history"), env=box.env, cwd=box.root, check=False)
        subprocess.run(box.argv("status"), env=box.env, cwd=box.root, check=False)
        if summary is not None:
            table = Table(title="client loop on the public port during the demo",
                          header_style="bold")
            table.add_column("served by")
            table.add_column("requests", justify="right")
            table.add_column("status codes")
            for version, counts in sorted(summary.by_version_status.items()):
                table.add_row(version or "(none)", str(sum(counts.values())),
                              ", ".join(f"{c}: {n}" for c, n in sorted(counts.items())))
            console.print(table)
            results.append(set(summary.by_status) == {200})
        results.append(_act(box, "stop everything", ["down", "--env", "production"], 0))
    finally:
        if load is not None and load.running:
            load.stop()
        box.down()
    ok = all(results)
    console.print(Rule())
    console.print("demo finished: every step ended as expected" if ok
                  else "demo finished with unexpected results", style="green" if ok else "red")
    return 0 if ok else 1


def main(keep: bool = False) -> int:
    """Run the demo in a temporary folder (kept with ``keep``)."""
    workdir = Path(tempfile.mkdtemp(prefix="rollgate-demo-"))
    try:
        return run_scenario(workdir)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
