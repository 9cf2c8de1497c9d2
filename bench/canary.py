"""Benchmark canary analysis: rollgate against Flagger, Argo Rollouts and Kayenta.

    python bench/canary.py [--trials 200] [--quick] [--seed 0] [--workers N]

A seeded traffic simulator (simulated time, no sleeping) sends 100 requests/s, 10% to the
canary, for a one-hour canary. Stable answers 0.2% 5xx (0.5% where a profile says so) with
log-normal latency (median 100 ms, p99 320 ms); about once an hour an incident raises
errors to 5% and latency by half for 20 s on both versions; good canaries differ from
stable by a per-canary jitter (error rate x e^N(0, 0.1), latency x e^N(0, 0.02)).
Each trial draws one trace and runs rollgate's default analysis and re-implementations of
the anchors' published rules on it (see bench/canary_sim.py). Per fault profile it reports
the median and p95 time to detect (seconds from canary start to the rollback decision),
the 5xx the canary served to users before that, and misses (bad canaries still running
after the hour); for good canaries, false rollbacks. Results go to bench/results/canary.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from canary_sim import HORIZON, PROFILES, SYSTEMS, Result, run_trial  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from rollgate.analysis.defaults import DEFAULT_ANALYSIS  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "canary.json"
GOALS = {
    "5% errors median time to detect <= 10 s": ("5% errors", "median", 10.0),
    "p95 +50% median time to detect <= 60 s": ("p95 +50%", "median", 60.0),
    "false rollbacks <= 1% of good canaries": ("good canary (noise)", "false_rate", 0.01),
}


def _chunk(job: tuple[int, list[int]]) -> list[tuple[int, dict[str, Result]]]:
    index, seeds = job
    return [(index, run_trial(PROFILES[index], seed)) for seed in seeds]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summarise(results: list[Result], bad: bool) -> dict[str, Any]:
    """Time to detect (misses count as never), 5xx served, misses or false rollbacks."""
    times = [r.at if r.at is not None else math.inf for r in results]
    caught = sum(r.at is not None for r in results)
    row: dict[str, Any] = {
        "trials": len(results),
        "median": statistics.median(times),
        "p95": _percentile(times, 0.95),
        "canary_5xx_median": statistics.median(r.canary_errors for r in results),
    }
    if bad:
        row["misses"] = len(results) - caught
    else:
        row["false_rollbacks"] = caught
        row["false_rate"] = caught / len(results)
    return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in row.items()}


def _worse(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Where rollgate does worse than an anchor on one profile."""
    def val(row: dict[str, Any], key: str) -> float:
        v = row.get(key)
        return math.inf if v is None else float(v)

    keys = ["misses", "median", "p95", "canary_5xx_median"] if "misses" in ours else [
        "false_rollbacks"]
    return [k for k in keys if val(ours, k) > val(theirs, k)]


def _secs(value: float | None) -> str:
    if value is None:
        return "never"
    return f"{value:.0f} s" if value < 600 else f"{value / 60:.0f} min"


def render(report: dict[str, Any], console: Console) -> None:
    """The comparison table, then the goals."""
    table = Table(title=f"Canary analysis, {report['config']['trials']} trials per profile "
                  "(100 req/s, 10% canary, 1 h canary)")
    for column in ("profile", "system", "median TTD", "p95 TTD", "canary 5xx (median)",
                   "misses / false rollbacks"):
        table.add_column(column, justify="left" if column in ("profile", "system") else "right")
    for name, systems in report["profiles"].items():
        for i, system in enumerate(SYSTEMS):
            row = systems[system]
            bad = "misses" in row
            tail = f"{row['misses']} misses" if bad else f"{row['false_rollbacks']} false"
            table.add_row(name if i == 0 else "", system, _secs(row["median"]) if bad else "-",
                          _secs(row["p95"]) if bad else "-", f"{row['canary_5xx_median']:.0f}",
                          tail, end_section=i == len(SYSTEMS) - 1)
    console.print(table)
    for goal, reached in report["goals"].items():
        mark = "[green]reached[/]" if reached["reached"] else "[red]missed[/]"
        console.print(f"  {mark}  {goal}: {reached['value']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="canaries per profile")
    parser.add_argument("--quick", action="store_true", help="30 trials per profile")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    trials = 30 if args.quick else args.trials
    started = time.perf_counter()
    jobs = []
    for index in range(len(PROFILES)):
        seeds = [args.seed * 10_000_000 + index * 100_000 + t for t in range(trials)]
        size = max(1, trials // (4 * max(1, args.workers)))
        jobs += [(index, seeds[i:i + size]) for i in range(0, trials, size)]
    collected: dict[int, list[dict[str, Result]]] = {i: [] for i in range(len(PROFILES))}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for chunk in pool.map(_chunk, jobs):
            for index, result in chunk:
                collected[index].append(result)
    profiles = {
        p.name: {s: summarise([r[s] for r in collected[i]], p.bad) for s in SYSTEMS}
        for i, p in enumerate(PROFILES)
    }
    goals: dict[str, Any] = {}
    for goal, (profile, key, limit) in GOALS.items():
        value = profiles[profile]["rollgate"][key]
        goals[goal] = {"value": value, "reached": value is not None and value <= limit}
    worse = {
        f"{name} vs {system}": found
        for name, systems in profiles.items() for system in SYSTEMS[1:]
        if (found := _worse(systems["rollgate"], systems[system]))
    }
    goals["no worse than any anchor on any profile"] = {
        "value": worse or "none worse", "reached": not worse}
    report = {
        "config": {
            "trials": trials, "seed": args.seed, "horizon_s": HORIZON,
            "rps": 100, "canary_weight": 0.10,
            "rollgate_analysis": DEFAULT_ANALYSIS.model_dump(mode="json", by_alias=True),
        },
        "profiles": profiles,
        "goals": goals,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "workers": args.workers},
    }
    console = Console()
    render(report, console)
    console.print(f"  {report['elapsed_s']} s; results in {RESULTS.relative_to(ROOT)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
