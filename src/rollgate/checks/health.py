"""HTTP health checks of one instance: one probe, or wait until ready."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from rollgate.checks.base import CheckResult, judge_response
from rollgate.spec.models import HealthCheck


def probe(base_url: str, health: HealthCheck, client: httpx.Client | None = None) -> CheckResult:
    """Request the health endpoint once and judge the answer."""
    start = time.monotonic()
    own = client is None
    http = client or httpx.Client(timeout=health.timeout)
    try:
        response = http.get(base_url + health.path, timeout=health.timeout)
        ok, detail = judge_response(
            response, expect_status=health.expect_status, expect_json=health.expect_json
        )
    except httpx.HTTPError as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        if own:
            http.close()
    return CheckResult("health", ok, detail, int((time.monotonic() - start) * 1000))


def wait_healthy(
    base_url: str,
    health: HealthCheck,
    *,
    alive: Callable[[], bool] = lambda: True,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[bool, str, int]:
    """Probe until ``success_threshold`` consecutive passes or ``retries`` attempts run out.

    Returns (ok, last detail, attempts). Stops early when the process died or a stop is asked.
    """
    streak = 0
    last = "not probed"
    with httpx.Client(timeout=health.timeout) as client:
        for attempt in range(1, health.retries + 1):
            if should_stop():
                return False, "stopped: the run was cancelled", attempt - 1
            if not alive():
                return False, f"process exited ({last})", attempt - 1
            result = probe(base_url, health, client)
            last = result.detail
            streak = streak + 1 if result.ok else 0
            if streak >= health.success_threshold:
                return True, last, attempt
            time.sleep(health.interval)
    return False, f"{last} after {health.retries} attempts", health.retries


def watch_healthy(
    base_url: str, health: HealthCheck, duration: float,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[bool, str, int]:
    """Probe for ``duration`` seconds; fail on ``failure_threshold`` consecutive failures."""
    failures = 0
    probes = 0
    last = "not probed"
    deadline = time.monotonic() + duration
    with httpx.Client(timeout=health.timeout) as client:
        while time.monotonic() < deadline and not should_stop():
            result = probe(base_url, health, client)
            probes += 1
            last = result.detail
            failures = 0 if result.ok else failures + 1
            if failures >= health.failure_threshold:
                return False, f"{failures} consecutive failures: {last}", probes
            time.sleep(health.interval)
    return True, last, probes
