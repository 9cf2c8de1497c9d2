"""Named checks from the spec (http, command) run against a service's public URL."""

from __future__ import annotations

import os
import subprocess
import time

import httpx

from rollgate.checks.base import CheckResult, judge_response
from rollgate.spec.models import Check, CommandCheck, HttpCheck


def run_check(name: str, check: Check, base_url: str, env: dict[str, str]) -> CheckResult:
    """Run one named check and return its result; never raises for a failing check."""
    start = time.monotonic()
    if isinstance(check, HttpCheck):
        ok, detail = _http(check, base_url)
    else:
        ok, detail = _command(check, base_url, env)
    return CheckResult(name, ok, detail, int((time.monotonic() - start) * 1000))


def _http(check: HttpCheck, base_url: str) -> tuple[bool, str]:
    try:
        response = httpx.request(
            check.method,
            base_url + check.path,
            headers=check.headers,
            json=check.body,
            timeout=check.timeout,
        )
    except httpx.HTTPError as exc:
        return False, f"{check.method} {check.path}: {type(exc).__name__}"
    ok, seen = judge_response(
        response,
        expect_status=check.expect_status,
        expect_json=check.expect_json,
        expect_text=check.expect_text,
    )
    return ok, f"{check.method} {check.path}: {seen}"


def _command(check: CommandCheck, base_url: str, env: dict[str, str]) -> tuple[bool, str]:
    full_env = {**os.environ, **env, "ROLLGATE_URL": base_url}
    try:
        # Through the shell, like the runbooks write them: pipes, $ROLLGATE_URL, &&.
        proc = subprocess.run(
            ["/bin/sh", "-c", check.run], capture_output=True, text=True,
            timeout=check.timeout, env=full_env, check=False,
        )
    except FileNotFoundError as exc:
        return False, f"cannot run {check.run!r}: {exc.strerror}"
    except subprocess.TimeoutExpired:
        return False, f"timed out after {check.timeout:g}s"
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    detail = f"exit {proc.returncode}" + (f": {' | '.join(tail)}" if tail else "")
    return proc.returncode == check.expect_exit, detail
