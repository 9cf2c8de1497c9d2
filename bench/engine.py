"""Engine overhead per step: DBOS step + rollgate's journal, the journal alone, a plain call.

Prints a table and writes bench/results/engine.json. Runs on SQLite, and on PostgreSQL too
when it answers on 127.0.0.1:5432. Then runs bench/proxy.py (the demo app direct vs through
rollgate's proxy: requests/s, added p50/p99) and folds its numbers into the same JSON.
Ratios matter, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dbos import DBOS, SetWorkflowID
from rich.console import Console
from rich.table import Table

from rollgate.engine.actions import ACTIONS
from rollgate.engine.runtime import Runtime
from rollgate.engine.workflow import _context, run_step
from rollgate.settings import Settings
from rollgate.spec.models import Spec
from rollgate.store import runs as run_store

SPEC = {"project": "bench",
        "services": {"web": {"command": "true", "port": 1}},
        "environments": {"production": {}}}


@DBOS.workflow(name="bench.steps")
def steps_workflow(run_id: str, n: int) -> int:
    """N journaled no-op steps."""
    for seq in range(2, n + 2):
        run_step(run_id, seq, f"note {seq}", "note", {"text": "x"}, False)
    return n


def _new_run(rt: Runtime) -> str:
    spec = Spec.model_validate(SPEC)
    with rt.db.session() as s:
        run = run_store.create_run(
            session=s, kind="deploy", service="web", environment="production",
            version="v1", from_version=None, strategy="recreate", actor="bench", reason=None,
            spec=spec.model_dump(mode="json"), spec_dir="/tmp",
        )
        return run.id


def measure(url: str | None, state: Path, n: int, rounds: int) -> dict[str, Any]:
    """Time n journaled steps vs n direct calls, several rounds; per-step numbers in ms."""
    settings = Settings(spec=state / "rollgate.yaml", state_dir=state, database_url=url)
    rt = Runtime(settings, kind="bench")
    rt.start_engine()
    try:
        engine_ms, direct_ms, journal_ms = [], [], []
        for _ in range(rounds):
            run_id = _new_run(rt)
            started = time.perf_counter()
            with SetWorkflowID(run_id):
                DBOS.start_workflow(steps_workflow, run_id, n).get_result()
            engine_ms.append((time.perf_counter() - started) * 1000 / n)
            ctx = _context(run_id)
            started = time.perf_counter()
            for _ in range(n):
                ACTIONS["note"](ctx, text="x")
            direct_ms.append((time.perf_counter() - started) * 1000 / n)
            started = time.perf_counter()
            for seq in range(1000, 1000 + n):
                with rt.db.session() as s:
                    run_store.step_started(session=s, run_id=run_id, seq=seq, name="j")
                ACTIONS["note"](ctx, text="x")
                with rt.db.session() as s:
                    run_store.step_finished(session=s, run_id=run_id, seq=seq,
                                            state="succeeded", output="x", error=None)
            journal_ms.append((time.perf_counter() - started) * 1000 / n)
            with rt.db.session() as s:
                run_store.transition(session=s, run_id=run_id, to=run_store.FAILED)
        engine, direct = statistics.median(engine_ms), statistics.median(direct_ms)
        journal = statistics.median(journal_ms)
        return {"store": "postgresql" if url else "sqlite", "steps": n, "rounds": rounds,
                "journaled_step_ms": round(engine, 3), "direct_call_ms": round(direct, 4),
                "store_journal_only_ms": round(journal, 3),
                "dbos_share_ms": round(engine - journal, 3),
                "overhead_per_step_ms": round(engine - direct, 3),
                "ratio": round(engine / direct, 1) if direct else None}
    finally:
        rt.close()


def _pg_url() -> str | None:
    try:
        import psycopg

        name = f"rg_bench_{secrets.token_hex(3)}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                             autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    except Exception:  # no PostgreSQL here: the SQLite row is still printed
        return None


def _drop(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "engine.json")
    parser.add_argument("--proxy-seconds", type=float, default=5.0,
                        help="measured seconds per target in the proxy part")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(measure(None, Path(tmp) / "sqlite", args.steps, args.rounds))
        url = _pg_url()
        if url:
            try:
                rows.append(measure(url, Path(tmp) / "pg", args.steps, args.rounds))
            finally:
                _drop(url)
    table = Table(title="engine: journaled step vs direct call (median per step)")
    for col in ("store", "steps x rounds", "engine step ms", "journal only ms",
                "DBOS adds ms", "direct call ms", "overhead ms/step"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["store"], f"{r['steps']} x {r['rounds']}", str(r["journaled_step_ms"]),
                      str(r["store_journal_only_ms"]), str(r["dbos_share_ms"]),
                      str(r["direct_call_ms"]), str(r["overhead_per_step_ms"]))
    Console().print(table)

    # The proxy half: the demo app direct vs through rollgate's proxy, same run.
    proxy_json = Path(__file__).parent / "results" / "proxy.json"
    subprocess.run([sys.executable, str(Path(__file__).parent / "proxy.py"),
                    "--seconds", str(args.proxy_seconds)], check=True)
    proxy = json.loads(proxy_json.read_text())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "engine", "results": rows, "proxy": proxy},
                                   indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
