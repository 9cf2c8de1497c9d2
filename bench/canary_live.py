"""Live mode of the canary benchmark: the 5% case on the real local target, real load.

    python bench/canary_live.py [--trials 3]

Starts the demo service behind rollgate's proxy, sends 100 requests/s, deploys a canary at
10% whose requests fail 5% of the time, and measures wall-clock seconds from the canary's
first traffic to the failing verdict and to 100% of traffic back on stable, through the
real CLI, store, engine and proxy. Writes bench/results/canary_live.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from rollgate.demo.load import LoadLoop  # noqa: E402
from rollgate.demo.scenario import demo_spec, detection_times  # noqa: E402
from rollgate.targets.local.processes import free_port  # noqa: E402
from rollgate.testing.sandbox import Sandbox  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "canary_live.json"


def trial(workdir: Path) -> tuple[float, float] | None:
    """One bad canary on the local target; (to verdict, to 100% stable) in seconds."""
    box = Sandbox(workdir)
    api_port = free_port()
    box.write_spec(demo_spec(box, free_port(), api_port))
    (workdir / "api-faults.json").write_text(json.dumps({"bad": {"error_rate": 0.05}}))
    try:
        if box.run("deploy", "api", "--env", "edge", "--version", "good").returncode:
            raise SystemExit("could not deploy the stable version")
        with LoadLoop(f"http://127.0.0.1:{api_port}/", rate=100, concurrency=4,
                      max_seconds=300):
            proc = box.run("deploy", "api", "--env", "edge", "--version", "bad")
        if proc.returncode != 1:
            return None
        return detection_times(box, box.latest_run("bad"))
    finally:
        box.down()


def main() -> int:
    """Run the trials, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    caught, stable, misses = [], [], 0
    for number in range(args.trials):
        with tempfile.TemporaryDirectory(prefix="rollgate-live-") as tmp:
            times = trial(Path(tmp))
        if times is None:
            misses += 1
        else:
            caught.append(times[0])
            stable.append(times[1])
        print(f"trial {number + 1}/{args.trials}: {times}", flush=True)
    table = Table(title="live: 5% errors at 10% weight, 100 req/s, local target")
    for col in ("trials", "median to verdict", "median to 100% stable", "max", "missed"):
        table.add_column(col, justify="right")
    med = statistics.median
    table.add_row(str(args.trials), f"{med(caught):.1f}s" if caught else "-",
                  f"{med(stable):.1f}s" if stable else "-",
                  f"{max(stable):.1f}s" if stable else "-", str(misses))
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "canary-live", "to_verdict_s": caught,
                                   "to_stable_s": stable, "misses": misses}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
