"""Benchmark rollgate's proxy: the demo app direct vs. through the proxy.

    python bench/proxy.py [--seconds 5] [--concurrency 8] [--quick]

Starts one demo app and one proxy (one backend -> that app), then runs the same
closed-loop load against each (keep-alive aiohttp client, in a separate process so it
does not share the servers' event loops) and prints requests/s, p50 and p99, and the
latency and throughput the proxy adds. Results go to bench/results/proxy.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rollgate.demo.process import start_demo  # noqa: E402
from rollgate.targets.local.proxy_client import (  # noqa: E402
    Backend,
    ProxyClient,
    start_proxy,
    stop_proxy,
)

RESULTS = ROOT / "bench" / "results" / "proxy.json"
PATH = "/version"


async def _client(url: str, seconds: float, warmup: float, concurrency: int) -> dict[str, Any]:
    """Closed loop: ``concurrency`` keep-alive workers, latencies kept after the warm-up."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def worker() -> None:
            nonlocal errors
            while (sent := time.perf_counter()) < stop_at:
                try:
                    async with session.get(url) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                done = time.perf_counter()
                if sent >= measure_from:
                    if ok:
                        latencies.append(done - sent)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "errors": errors,
        "seconds": seconds,
        "rps": count / seconds,
        "p50_ms": 1000 * latencies[int(0.50 * (count - 1))] if count else None,
        "p99_ms": 1000 * latencies[int(0.99 * (count - 1))] if count else None,
        "mean_ms": 1000 * statistics.fmean(latencies) if count else None,
    }


def _run_client(url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--client", url, "--seconds", str(args.seconds),
        "--warmup", str(args.warmup), "--concurrency", str(args.concurrency),
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _table(results: dict[str, dict[str, Any]], overhead: dict[str, float]) -> str:
    lines = [f"{'target':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"]
    for name, r in results.items():
        lines.append(
            f"{name:<10}{r['rps']:>10.0f}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}{r['errors']:>8}"
        )
    added = f"p50 {overhead['added_p50_ms']:+.3f} ms, p99 {overhead['added_p99_ms']:+.3f} ms"
    lines.append(f"proxy adds {added}; throughput {overhead['throughput_ratio']:.2f}x of direct")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per target")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive workers")
    parser.add_argument("--quick", action="store_true", help="1 s runs, 0.3 s warm-up")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 1.0, 0.3
    if args.client:
        result = asyncio.run(_client(args.client, args.seconds, args.warmup, args.concurrency))
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="rollgate-bench-") as tmp:
        demo = start_demo("v1", log=Path(tmp) / "demo.log")
        proxy = start_proxy("127.0.0.1:0", Path(tmp) / "proxy.json", Path(tmp) / "proxy.log")
        try:
            with ProxyClient(proxy.admin_url) as admin:
                admin.set_routes([Backend("v1", demo.url, 100)])
            results = {
                "direct": _run_client(demo.url + PATH, args),
                "proxied": _run_client(f"http://{proxy.listen}{PATH}", args),
            }
        finally:
            stop_proxy(proxy.pid)
            demo.stop()
    direct, proxied = results["direct"], results["proxied"]
    overhead = {
        "added_p50_ms": proxied["p50_ms"] - direct["p50_ms"],
        "added_p99_ms": proxied["p99_ms"] - direct["p99_ms"],
        "throughput_ratio": proxied["rps"] / direct["rps"],
    }
    print(_table(results, overhead))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "config": {
            "seconds": args.seconds,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "path": PATH,
            "client": "aiohttp, separate process",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": results,
        "overhead": overhead,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
