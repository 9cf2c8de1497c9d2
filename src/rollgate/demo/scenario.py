"""``make demo``: blue-green, data safety and rollback for ``web``; two canaries for ``api``.

web (items in a SQLite database, Alembic migrations): deploy v1 (backup, migrate 0001),
blue-green to v2 (backup, migrate 0002), refuse a broken v3, refuse v4 whose migration
fails halfway (the database is restored from the pre-migration backup), then a full
rollback to v1: the database restored from v2's backup behind maintenance mode, and v1.
api (environment edge): under 100 requests/s, a good canary (v2) promoted 10% -> 50% ->
100% while judged against stable, then a bad one (v3, 5% of requests fail) caught and
rolled back; the summary shows how long detection took. Both automatic rollbacks (the
restored migration, the bad canary) open incidents; the canary's is run to resolution with
roles, a public update, a message, an action item and its post-mortem draft, and the DORA
report; last, the outbox delivers what the runs and the incident announced to the team's
signed webhook (a loopback receiver).

Everything goes through the real ``rollgate`` CLI against the embedded default (SQLite store,
local target, rollgate's own proxy), with a client loop hitting the public port throughout.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from rollgate.demo.load import LoadLoop
from rollgate.demo.schema import install_migrations
from rollgate.store import runs as run_store
from rollgate.targets.local.processes import free_port
from rollgate.testing.receivers import Receiver
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


def demo_spec(box: Sandbox, port: int, api_port: int) -> dict[str, Any]:
    """Two demo services: web (blue-green, a SQLite database) and api (canary vs stable)."""
    api = demo_service(api_port, box.root / "api-faults.json")
    web = demo_service(port, box.faults_path, database="main", env={
        "ROLLGATE_DEMO_FAULTS": str(box.faults_path),
        "DEMO_DATABASE": str(box.root / "data" / "items.db")})
    return {
        "project": "demo",
        "services": {"web": web, "api": api},
        "databases": {"main": {
            "engine": "sqlite", "url": "sqlite:///data/items.db",
            "migrations": {"kind": "alembic", "config": "migrations/alembic.ini"},
            "maintenance_message": "Restoring the database: back in a minute.",
        }},
        "environments": {
            "production": {"strategy": {"kind": "blue-green", "keep_warm": "10m"}},
            "edge": {"strategy": {
                "kind": "canary", "analysis": "golden-signals",
                "steps": [{"weight": 10}, {"pause": "20s"}, {"weight": 50}, {"pause": "10s"}],
            }},
        },
        "incidents": {"on_rollback": {"level": "SEV2"}},
        # The team's channel: a signed webhook (a loopback receiver stands in for it).
        "notifications": {
            "channels": {"team": {"type": "webhook", "url": "${DEMO_WEBHOOK_URL}",
                                  "secret": "${DEMO_WEBHOOK_SECRET}"}},
            "routes": [{"events": ["run.*", "incident.*"], "channels": ["team"]}],
        },
        "analyses": {"golden-signals": {
            "interval": "1s",
            "judge": {"metrics": [{"metric": "error_rate", "critical": True},
                                  {"metric": "latency", "effect_floor": 0.1}],
                      "alpha": 0.01},
        }},
    }


def detection_times(box: Sandbox, run_id: str) -> tuple[float, float] | None:
    """Seconds from the canary's first traffic to the failing analysis, and to 100% stable."""
    with box.store().session() as s:
        steps = run_store.list_steps(session=s, run_id=run_id)
    onset = next((st.finished_at for st in steps if st.name.startswith("set ")), None)
    caught = next((st.finished_at for st in steps if st.state == "failed"), None)
    stable = next((st.finished_at for st in steps if st.name.startswith("rollback: ")
                   and "to 0%" in st.name), None)
    if onset is None or caught is None or stable is None:
        return None
    return (caught - onset).total_seconds(), (stable - onset).total_seconds()


def _detection(box: Sandbox) -> Table | None:
    """How long the bad canary served before the analysis caught it and traffic returned."""
    with box.store().session() as s:
        runs = run_store.list_runs(session=s, service="api", status=run_store.ROLLED_BACK,
                                   limit=1)
    times = detection_times(box, runs[0].id) if runs else None
    if not runs or times is None:
        return None
    table = Table(title="bad canary api v3 (5% errors at 10% weight, 100 req/s)",
                  header_style="bold")
    table.add_column("canary takes traffic → analysis fails", justify="right")
    table.add_column("→ 100% of traffic back on v2", justify="right")
    table.add_row(f"{times[0]:.1f}s", f"{times[1]:.1f}s")
    table.caption = runs[0].error or ""
    return table


def _incident(box: Sandbox) -> list[bool]:
    """Run the bad canary's incident from the terminal: roles, ack, a public update, the
    message, resolution, an action item, the post-mortem draft; then the DORA report."""
    opened = box.json("incident", "list")
    results = [sorted(i["service"] for i in opened) == ["api", "web"]]
    inc = next((i["id"] for i in opened if i["service"] == "api"), None)
    if inc is None:
        return [False]
    acts = [
        ("incidents opened by the automatic rollbacks", ["incident", "list"]),
        ("ana takes command", ["incident", "assign", inc, "ic", "ana"]),
        ("the page is acknowledged (escalation stops)", ["incident", "ack", inc]),
        ("a public update", ["incident", "note", inc, "--public",
                             "Some API requests failed for a minute; fixed by a rollback."]),
        ("the update message, in the seeds' format", ["incident", "comms", inc,
                                                      "--kind", "update"]),
        ("resolved: the post-mortem is drafted", ["incident", "resolve", inc, "-m",
                                                  "error rate flat on v2 for 10 minutes"]),
        ("an action item", ["incident", "action", "add", inc, "Test 5xx paths of api",
                            "--owner", "ana", "--due", "7d"]),
        ("the timeline", ["incident", "show", inc]),
        ("the post-mortem draft", ["incident", "postmortem", inc, "--write",
                                   "postmortem.md"]),
    ]
    results += [_act(box, title, args, 0) for title, args in acts]
    draft = box.root / "postmortem.md"
    if draft.exists():
        console.print("\n".join(draft.read_text().splitlines()[:30]) + "\n…", markup=False)
    results.append(_act(box, "DORA metrics from this history",
                        ["report", "dora", "--since", "1d", "--env", "production",
                         "--env", "edge"], 0))
    return results


def _notifications(box: Sandbox, receiver: Receiver) -> list[bool]:
    """Deliver what the runs and the incident announced (what `rollgate serve` does on its
    own), then show the outbox and what the team's webhook received."""
    results = [_act(box, "deliver the notifications (cron; rollgate serve does it itself)",
                    ["notifications", "send"], 0),
               _act(box, "the outbox", ["notifications", "list", "--limit", "8"], 0)]
    rows = box.json("notifications", "list", "--limit", "500")
    got = [b["event"]["subject"] for b in receiver.bodies()]
    console.print(f"the team's webhook received {len(got)} signed message(s), e.g.:")
    for subject in got[:4] + (["…"] if len(got) > 4 else []):
        console.print(f"  {subject}", markup=False)
    results.append(len(got) == len(rows) > 0 and all(r["state"] == "delivered" for r in rows))
    return results


def _items(public: str, names: list[str]) -> None:
    """Write items through the public port."""
    for name in names:
        httpx.post(f"{public}/api/items", json={"name": name}, timeout=5).raise_for_status()


def run_scenario(workdir: Path) -> int:
    """Run the demo in ``workdir``; return 0 when every act ended as expected."""
    port, api_port = free_port(), free_port()
    receiver = Receiver().start()
    os.environ["DEMO_WEBHOOK_URL"] = receiver.url
    os.environ["DEMO_WEBHOOK_SECRET"] = secrets.token_hex(16)
    box = Sandbox(workdir)
    box.write_spec(demo_spec(box, port, api_port))
    box.set_faults({"v3": {"health": "fail"}})
    api_faults = workdir / "api-faults.json"
    api_faults.write_text(json.dumps({"v3": {"error_rate": 0.05}}))
    console.print(f"workspace {workdir} · web http://127.0.0.1:{port}/ · "
                  f"api http://127.0.0.1:{api_port}/ · spec {box.spec_path}")
    (workdir / "data").mkdir(exist_ok=True)
    public = f"http://127.0.0.1:{port}"
    # Each release brings its migrations, as a checkout of that version would.
    releases = {"v1": ["0001"], "v2": ["0001", "0002"], "v4": ["0001", "0002", "0003"]}
    acts = [
        ("deploy v1 (backup, migrate 0001)",
         ["deploy", "web", "--env", "production", "--version", "v1"], 0),
        ("blue-green to v2 (backup, migrate 0002; healthy: promoted, v1 kept warm)",
         ["deploy", "web", "--env", "production", "--version", "v2"], 0),
        ("v3 fails its health check: refused, traffic stays on v2",
         ["deploy", "web", "--env", "production", "--version", "v3"], 1),
        ("v4's migration fails halfway: the database is restored, traffic stays on v2",
         ["deploy", "web", "--env", "production", "--version", "v4"], 1),
        ("full rollback to v1: data restored from v2's backup behind maintenance, and v1",
         ["rollback", "web", "--env", "production", "--full", "--reason",
          "demo: v2 corrupts item notes", "--yes"], 0),
        ("db status", ["db", "status", "--env", "production"], 0),
        ("backup list", ["backup", "list"], 0),
        ("api: deploy v1", ["deploy", "api", "--env", "edge", "--version", "v1"], 0),
        ("api: good canary v2, 10% -> 50% -> 100%, judged against v1: promoted",
         ["deploy", "api", "--env", "edge", "--version", "v2"], 0),
        ("api: bad canary v3 (5% of its requests fail): caught, rolled back",
         ["deploy", "api", "--env", "edge", "--version", "v3"], 1),
    ]
    results = []
    load: LoadLoop | None = None
    api_load: LoadLoop | None = None
    try:
        for index, (title, args, expect) in enumerate(acts):
            if args[:2] == ["deploy", "web"]:
                install_migrations(workdir, releases.get(args[-1], releases["v2"]))
            if args[0] == "rollback":
                _items(public, ["written after v2 (lost by the full rollback)"])
            results.append(_act(box, title, args, expect))
            if args[:2] == ["deploy", "web"] and args[-1] in ("v1", "v2"):
                _items(public, [f"written while {args[-1]} is live"] * 2)
            if args[0] == "rollback":
                left = httpx.get(f"{public}/api/items", timeout=5).json()["items"]
                console.print(f"items after the full rollback: {len(left)} "
                              f"({', '.join(sorted({i['name'] for i in left}))})")
                results.append(len(left) == 2)
            if index == 0:
                load = LoadLoop(f"http://127.0.0.1:{port}/", concurrency=2, rate=50,
                                max_seconds=300).start()
            if args[:2] == ["deploy", "api"] and args[-1] == "v1":
                api_load = LoadLoop(f"http://127.0.0.1:{api_port}/", concurrency=4, rate=100,
                                    max_seconds=300).start()
        summary = load.stop() if load else None
        if api_load is not None:
            api_load.stop()
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
            # Users saw answers from a version, or the maintenance page during the restore.
            results.append(summary.unexpected == 0)
        detection = _detection(box)
        if detection is not None:
            console.print(detection)
        results += _incident(box)
        results += _notifications(box, receiver)
        results.append(_act(box, "stop web", ["down", "web", "--env", "production"], 0))
        results.append(_act(box, "stop api", ["down", "api", "--env", "edge"], 0))
    finally:
        if load is not None and load.running:
            load.stop()
        box.down()
        receiver.stop()
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
