"""Schemathesis against a real ``rollgate serve``: no operation answers a 5xx.

The server has a deployed service (so runs, releases and audit events exist) and an admin
with an API token, which schemathesis sends on every request, so each operation gets past
authentication into its own logic. Every operation gets its schema's examples, the
coverage phase's boundary and negative cases, and a few fuzzed cases (valid and invalid);
the only check is ``not_a_server_error``. ``--max-time`` bounds each pass.

Two passes: schemathesis feeds values from earlier responses into later requests, so in
one pass it revokes its own token (an id from ``GET /api/tokens``) or disables its user,
and every later request is a 401. The operations that can lock it out run in a second,
short pass with a token of their own.

Schemathesis runs as its own CLI (``schemathesis run``): its pytest plugin's lazy loader
does not work with pytest 9, and the CLI prints each failure with a curl command that
reproduces it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.api.conftest import ApiServer

MAX_EXAMPLES = 15  # fuzzed cases per operation, on top of the examples and coverage phases
SEED = 5
# Operations that can lock the caller out: revoke a token, disable a user, revoke a grant.
LOCKOUT = r"^/api/(tokens/\{token_id\}|users/\{name\}/(disable|grants))$"
PASSES = {"main": (["--exclude-path-regex", LOCKOUT], 40),
          "lockout": (["--include-path-regex", LOCKOUT], 10)}
ADMIN, PASSWORD = "st-admin", "schemathesis runs as admin"


def admin_token(api: ApiServer, name: str) -> str:
    """A fresh API token of the admin (created, in open mode, by the first call)."""
    if "Authorization" not in api.http.headers:
        resp = api.http.post("/api/users", json={"name": ADMIN, "password": PASSWORD,
                                                 "role": "admin", "environment": "*"})
        assert resp.status_code == 201, resp.text
    resp = api.http.post("/api/auth/token", json={"username": ADMIN, "password": PASSWORD,
                                                  "name": name})
    assert resp.status_code == 201, resp.text
    token = str(resp.json()["token"])
    api.http.headers.setdefault("Authorization", f"Bearer {token}")  # for the teardown
    return token


def run_schemathesis(url: str, token: str, options: list[str], seconds: int,
                     report: Path) -> subprocess.CompletedProcess[str]:
    """One ``schemathesis run`` over the server's schema, writing a JSON report."""
    cli = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [str(cli), "run", f"{url}/openapi.json", *options,
         "--header", f"Authorization: Bearer {token}",
         "--checks", "not_a_server_error",
         "--phases", "examples,coverage,fuzzing",
         "--mode", "all",
         "--max-examples", str(MAX_EXAMPLES),
         "--max-time", str(seconds),
         "--seed", str(SEED),
         "--generation-database", "none",
         "--request-timeout", "20",
         "--continue-on-failure",
         "--suppress-health-check", "all",
         "--report", "json", "--report-json-path", str(report),
         "--no-color"],
        capture_output=True, text=True, timeout=seconds + 60, cwd=report.parent,
    )


def test_no_operation_answers_a_server_error(api: ApiServer, tmp_path: Path) -> None:
    api.deployed("v1")
    started = time.monotonic()
    problems, tested = [], 0
    for name, (options, seconds) in PASSES.items():
        report_path = tmp_path / f"{name}.json"
        result = run_schemathesis(api.url, admin_token(api, name), options, seconds,
                                  report_path)
        output = result.stdout + result.stderr
        assert report_path.exists(), output[-4000:]
        report = json.loads(report_path.read_text())
        tested += report["operations"]["tested"]
        if report["failures"] or result.returncode != 0:
            problems.append(f"pass {name}: {json.dumps(report['failures'])}\n"
                            f"{output[output.find('FAILURES'):][:6000]}")
    assert not problems, "\n".join(problems)
    schema = api.http.get("/openapi.json").json()
    assert tested == sum(len(ops) for ops in schema["paths"].values())
    assert time.monotonic() - started < 85
    assert "Traceback" not in api.log(), api.log()[-4000:]
