"""``kind: latency``: N requests at concurrency C; percentiles must stay under bounds.

Seed 003's performance baseline is ``ab -n 100 -c 10 .../health``; seed 000's objective is
"p95 API < 800ms". Failed requests (no answer, or another status) count against
``max_errors`` and are left out of the percentiles.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import httpx
from pydantic import Field

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.spec.durations import Duration


class LatencyCheck(CheckConfig):
    """Load a path briefly and bound its latency percentiles (like ``ab -n 100 -c 10``)."""

    kind: Literal["latency"] = Field(description="selects this check")
    path: str = Field("/", description="path requested")
    base_url: str | None = Field(
        None, description="URL to request instead of the service's public URL"
    )
    method: Literal["GET", "HEAD"] = Field("GET", description="HTTP method")
    requests: int = Field(100, ge=1, le=100_000, description="requests to send (ab -n)")
    concurrency: int = Field(10, ge=1, le=256, description="requests in flight at once (ab -c)")
    p95: Duration = Field(description="the 95th percentile must be below this, e.g. 800ms")
    p50: Duration | None = Field(None, description="the median must be below this")
    expect_status: int = Field(200, ge=100, le=599, description="status of a successful request")
    max_errors: int = Field(
        0, ge=0, description="failed requests (no answer, or another status) allowed"
    )
    timeout: Duration = Field(10.0, gt=0, description="timeout of each request")


@check_kind(LatencyCheck)
def run_latency(check: LatencyCheck, ctx: CheckContext) -> CheckResult:
    """Send the requests, then judge errors, p95 and p50."""
    url = ctx.url(check.path, check.base_url)
    workers = min(check.concurrency, check.requests)
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    start = time.perf_counter()
    with (
        httpx.Client(timeout=check.timeout, limits=limits) as client,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="latency") as pool,
    ):
        def one(_: int) -> tuple[float, int | None]:
            sent = time.perf_counter()
            try:
                status: int | None = client.request(check.method, url).status_code
            except httpx.HTTPError:
                status = None
            return time.perf_counter() - sent, status

        answers = list(pool.map(one, range(check.requests)))
    elapsed = time.perf_counter() - start
    good = sorted(seconds for seconds, status in answers if status == check.expect_status)
    errors = len(answers) - len(good)
    seen = (f"{check.method} {check.path}: {check.requests} requests at concurrency "
            f"{workers}, {len(answers) / elapsed:.0f} req/s, {errors} failed")
    if not good:
        return ctx.failed(f"{seen}{_statuses(answers, check.expect_status)}")
    p50, p95 = _percentile(good, 0.50), _percentile(good, 0.95)
    seen += f", p50 {_ms(p50)}, p95 {_ms(p95)}"
    problems = []
    if errors > check.max_errors:
        failures = _statuses(answers, check.expect_status)
        problems.append(f"more than {check.max_errors} failed{failures}")
    if p95 >= check.p95:
        problems.append(f"p95 not below {_ms(check.p95)}")
    if check.p50 is not None and p50 >= check.p50:
        problems.append(f"p50 not below {_ms(check.p50)}")
    if problems:
        return ctx.failed(f"{seen}: " + "; ".join(problems))
    return ctx.passed(f"{seen} (below {_ms(check.p95)})")


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values: the smallest with q of them at or below."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _statuses(answers: list[tuple[float, int | None]], expected: int) -> str:
    """`` (HTTP 500 x3, no answer x1)`` for the answers that failed, most frequent first."""
    counts: dict[str, int] = {}
    for _, status in answers:
        if status == expected:
            continue
        label = "no answer" if status is None else f"HTTP {status}"
        counts[label] = counts.get(label, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return " (" + ", ".join(f"{label} x{n}" for label, n in ranked) + ")"
