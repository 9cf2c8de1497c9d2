"""Time gates and approvals on real deploys: windows, --wait, freezes, emergencies, four eyes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from rollgate.spec.windows import DAYS
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.e2e.helpers import deploy


def _spec(box: Sandbox, production: dict[str, Any], port: int | None = None,
          **top: Any) -> int:
    port = port or free_port()
    box.write_spec({"project": "shop",
                    "services": {"web": demo_service(port, box.faults_path)},
                    "environments": {"production": {"strategy": {"kind": "recreate"},
                                                    **production}},
                    **top})
    return port


def _version(port: int) -> str:
    return str(httpx.get(f"http://127.0.0.1:{port}/version").json()["version"])


def test_outside_the_window_a_deploy_is_refused_with_the_next_opening(sandbox: Sandbox) -> None:
    today = datetime.now(UTC).weekday()
    other_days = [d for i, d in enumerate(DAYS) if i != today]
    _spec(sandbox, {"windows": {"timezone": "Africa/Cairo",
                                "allow": [{"days": other_days, "hours": "10:00-16:00"}]}})
    refused = deploy(sandbox, "v1")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    said = " ".join(refused.stderr.split())
    assert "production is outside its deploy windows" in said
    assert "(Africa/Cairo); the next opens" in said and "EET" in said
    assert "add --wait to wait for it" in said and "--emergency" in said
    assert sandbox.json("history", "--json") == []  # nothing started, nothing recorded


def test_wait_sleeps_durably_until_the_window_opens(sandbox: Sandbox) -> None:
    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    closes = opens + timedelta(hours=1)
    port = _spec(sandbox, {"windows": {"allow": [
        {"days": "mon-sun", "hours": f"{opens:%H:%M:%S}-{closes:%H:%M:%S}"}]}})
    done = deploy(sandbox, "v1", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert datetime.now(UTC) >= opens
    run = sandbox.json("runs", "show", sandbox.latest_run("v1"))
    waited = run["steps"][1]
    assert waited["name"].startswith("wait for the deploy window (opens ")
    check = run["steps"][2]
    # Nothing after the wait started before the window opened.
    assert datetime.fromisoformat(check["started_at"]) >= opens
    assert check["name"] == "check deploy window and freezes"
    assert "window: inside mon-sun" in check["output"]
    assert _version(port) == "v1"


def test_a_freeze_refuses_until_an_emergency_with_a_reason_overrides_it(
        sandbox: Sandbox) -> None:
    today = datetime.now(UTC).date()
    freeze = {"reason": "year-end freeze", "start": str(today - timedelta(days=1)),
              "end": str(today + timedelta(days=1)), "environments": ["production"]}
    port = _spec(sandbox, {}, freezes=[freeze])
    refused = deploy(sandbox, "v1")
    assert refused.returncode == 3
    said = " ".join(refused.stderr.split())
    assert "deploys of web to production are frozen until" in said
    assert "year-end freeze" in said and "emergency deploy" in said
    no_reason = deploy(sandbox, "v1", "--emergency")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    forced = deploy(sandbox, "v1", "--emergency", "--reason", "checkout is down")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert _version(port) == "v1"
    run = sandbox.json("runs", "show", sandbox.latest_run("v1"))
    assert run["reason"] == "checkout is down"
    assert run["params"]["emergency"]["overrides"][0].startswith("deploys of web to production")
    events = sandbox.json("audit", "list", "--json")
    requested = next(e for e in events if e["action"] == "deploy.requested")
    assert requested["detail"]["emergency"]["reason"] == "checkout is down"


def test_four_eyes_the_requester_cannot_approve_and_two_others_must(sandbox: Sandbox) -> None:
    port = _spec(sandbox, {"approvals": {"required": 2, "timeout": "2m"}})
    proc = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v1")
    run_id = sandbox.latest_run("v1")
    step = "wait for approval from others: 2 needed, not tester (up to 2m)"
    sandbox.wait_for_step(run_id, step)

    own = sandbox.run("approve", run_id)
    assert own.returncode == 3
    assert "tester asked for this deploy and cannot approve" in " ".join(own.stderr.split())
    assert sandbox.run("approve", run_id, "--comment", "diff reviewed", actor="bob"
                       ).returncode == 0
    assert sandbox.run("approve", run_id, actor="bob").returncode == 0  # counts once
    assert proc.poll() is None  # still one approval short
    assert sandbox.run("approve", run_id, actor="carol").returncode == 0
    assert proc.wait(timeout=60) == 0
    run = sandbox.json("runs", "show", run_id)
    waited = next(s for s in run["steps"] if s["name"] == step)
    assert waited["state"] == "succeeded"
    assert "approved by bob: diff reviewed; carol" in waited["output"]
    assert _version(port) == "v1"
    approvals = [e for e in sandbox.json("audit", "list", "--json")
                 if e["action"] == "run.approved"]
    assert sorted(e["actor"] for e in approvals) == ["bob", "bob", "carol"]


def test_a_rejection_fails_the_run_before_anything_changes(sandbox: Sandbox) -> None:
    port = _spec(sandbox, {})
    assert deploy(sandbox, "v1").returncode == 0
    _spec(sandbox, {"approvals": {"required": 1}}, port)
    proc = sandbox.spawn("deploy", "web", "--env", "production", "--version", "v2")
    run_id = sandbox.latest_run("v2")
    sandbox.wait_for_step(run_id, "wait for approval from others: 1 needed, not tester "
                                  "(up to 1d)")
    no_reason = sandbox.run("reject", run_id, "--comment", " ", actor="bob")
    assert no_reason.returncode == 2
    rejected = sandbox.run("reject", run_id, "--comment", "no rollback plan", actor="bob")
    assert rejected.returncode == 0, rejected.stderr
    assert proc.wait(timeout=60) == 1
    run = sandbox.json("runs", "show", run_id)
    assert run["status"] == "failed"
    assert "rejected by bob: no rollback plan" in run["error"]
    assert _version(port) == "v1"


def test_a_dry_run_judges_every_gate_now_and_changes_nothing(sandbox: Sandbox) -> None:
    today = datetime.now(UTC).weekday()
    other_days = [d for i, d in enumerate(DAYS) if i != today]
    _spec(sandbox, {"windows": {"allow": [{"days": other_days}]},
                    "approvals": {"required": 2, "timeout": "4h"}},
          checks={"smoke": {"kind": "command", "run": "true"}},
          checklists={"pre-deploy": [{"check": "smoke"}, {"manual": "Release notes written"}]})
    dry = sandbox.run("deploy", "web", "--env", "production", "--version", "v1", "--dry-run",
                      "--json")
    assert dry.returncode == 1, dry.stdout + dry.stderr
    report = json.loads(dry.stdout)
    outcomes = {g["gate"]: g["outcome"] for g in report["gates"]}
    assert outcomes == {"window": "wait", "freeze": "pass", "checklist: smoke": "pass",
                        "checklist: release-notes-written": "block", "approvals": "info"}
    assert report["would_start"] is False
    names = [s["name"] for s in report["steps"]]
    assert names[:3] == ["plan", "pre-deploy checklist",
                         "wait for approval from others: 2 needed, not tester (up to 4h)"]
    assert sandbox.run("checklist", "--env", "production", "--version", "v1", "--confirm",
                       "release-notes-written").returncode == 0
    waiting = sandbox.run("deploy", "web", "--env", "production", "--version", "v1",
                          "--dry-run", "--wait")
    assert waiting.returncode == 0, waiting.stdout  # --wait: the window no longer stops it
    assert "would start" in waiting.stdout
    assert sandbox.json("history", "--json") == []
    assert not [e for e in sandbox.json("audit", "list", "--json")
                if e["action"].startswith("deploy")]


def test_a_major_change_needs_maintenance_announced_long_enough_before(
        sandbox: Sandbox) -> None:
    port = _spec(sandbox, {"policies": {"major_notice": "3s"}})
    refused = deploy(sandbox, "v1", "--major")
    assert refused.returncode == 3
    said = " ".join(refused.stderr.split())
    assert "a major change of web in production needs maintenance announced at least 3s" in said
    assert "rollgate notice post --env production" in said

    start = datetime.now(UTC).replace(microsecond=0)
    late = sandbox.run("notice", "post", "--env", "production", "--title", "Schema upgrade",
                       "--starts", f"{start:%Y-%m-%dT%H:%M:%S}",
                       "--ends", f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}")
    assert late.returncode == 0, late.stderr
    refused = deploy(sandbox, "v1", "--major")
    assert refused.returncode == 3
    assert "#1 covers now but was posted less than 3s before it started" in " ".join(
        refused.stderr.split())

    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=9)
    posted = sandbox.run("notice", "post", "--env", "production", "--service", "web",
                         "--title", "Checkout upgrade", "--timezone", "Africa/Cairo",
                         "--starts",
                         f"{opens.astimezone(ZoneInfo('Africa/Cairo')):%Y-%m-%d %H:%M:%S}",
                         "--ends", f"{opens + timedelta(hours=1):%Y-%m-%dT%H:%M:%S+00:00}",
                         "--json")
    assert posted.returncode == 0, posted.stderr
    assert json.loads(posted.stdout)["starts_at"].startswith(f"{opens:%Y-%m-%d %H:%M:%S}")
    early = deploy(sandbox, "v1", "--major")
    assert early.returncode == 3  # announced in time, but it has not started yet
    while datetime.now(UTC) < opens:
        time.sleep(0.2)
    done = deploy(sandbox, "v1", "--major")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _version(port) == "v1"
    run = sandbox.json("runs", "show", sandbox.latest_run("v1"))
    assert run["params"]["major"] is True
    listed = sandbox.json("notice", "list", "--env", "production", "--json")
    assert [n["title"] for n in listed] == ["Schema upgrade", "Checkout upgrade"]
    backwards = sandbox.run("notice", "post", "--env", "production", "--title", "x",
                            "--starts", "2030-01-02T10:00", "--ends", "2030-01-02T09:00")
    assert backwards.returncode == 2 and "must come after --starts" in backwards.stderr
