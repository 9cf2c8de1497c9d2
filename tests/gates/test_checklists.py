"""Checklists: automated items, confirmations by a named person, strict mode, deploy gate."""

from __future__ import annotations

import json
from typing import Any

from rollgate.store.runs import now
from rollgate.store.tables import Incident
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service

CHECKS = {
    "migrations-reviewed": {"kind": "command", "run": "true"},
    "disk-space": {"kind": "command", "run": "echo 'disk 91% full' >&2; exit 1"},
    "no-major-incident": {"kind": "incidents"},
}
PRE_DEPLOY = [
    {"check": "migrations-reviewed"},
    {"check": "disk-space", "warn_only": True},
    {"check": "no-major-incident"},
    {"manual": "Code review approved by at least 2 team members", "id": "code-review",
     "environments": ["production"]},
    {"manual": "Rollback authority designated"},
]


def _spec(box: Sandbox, **production: Any) -> None:
    box.write_spec({
        "project": "shop",
        "services": {"web": demo_service(free_port(), box.faults_path)},
        "environments": {"staging": {}, "production": production},
        "checks": CHECKS,
        "checklists": {"pre-deploy": PRE_DEPLOY,
                       "post-deploy": [{"manual": "Dashboards watched for 30 minutes"}]},
    })


def _items(result: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {i["id"]: (i["status"], i["detail"]) for i in result["items"]}


def test_a_checklist_runs_its_checks_and_waits_for_named_confirmations(
        sandbox: Sandbox) -> None:
    _spec(sandbox)
    first = sandbox.run("checklist", "--env", "production", "--json")
    assert first.returncode == 1
    items = _items(json.loads(first.stdout))
    assert items["migrations-reviewed"][0] == "pass"
    assert items["disk-space"] == ("warning", "exit 1: disk 91% full")
    assert items["no-major-incident"][0] == "pass"
    assert items["code-review"] == ("pending", "not confirmed yet")
    assert items["rollback-authority-designated"][0] == "pending"
    staging = json.loads(sandbox.run("checklist", "--env", "staging", "--json").stdout)
    assert "code-review" not in _items(staging)  # scoped to production

    wrong = sandbox.run("checklist", "--env", "production", "--confirm", "disk-space")
    assert wrong.returncode == 2
    assert "not a manual item" in wrong.stderr and "code-review" in wrong.stderr
    done = sandbox.run("checklist", "--env", "production", "--confirm", "code-review",
                       "--confirm", "rollback-authority-designated", "--comment", "PR #812",
                       actor="dana")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ready" in done.stdout
    result = json.loads(sandbox.run("checklist", "--env", "production", "--json").stdout)
    status, detail = _items(result)["code-review"]
    assert status == "confirmed" and detail.startswith("by dana at ") and "PR #812" in detail
    strict = sandbox.run("checklist", "--env", "production", "--strict", "--json")
    assert strict.returncode == 1  # the disk warning fails in strict mode
    assert json.loads(strict.stdout)["strict"] is True
    audit = [e for e in sandbox.json("audit", "list", "--json")
             if e["action"] == "checklist.confirmed"]
    assert {(e["actor"], e["detail"]["item"]) for e in audit} == {
        ("dana", "code-review"), ("dana", "rollback-authority-designated")}


def test_a_prompt_records_the_confirmation_of_the_person_at_the_terminal(
        sandbox: Sandbox) -> None:
    _spec(sandbox)
    answered = sandbox.run("checklist", "--env", "staging", "--phase", "post-deploy",
                           "--prompt", input_text="y\nall green\n", actor="omar")
    assert answered.returncode == 0, answered.stdout + answered.stderr
    result = json.loads(sandbox.run("checklist", "--env", "staging", "--phase", "post-deploy",
                                    "--json").stdout)
    status, detail = _items(result)["dashboards-watched-for-30-minutes"]
    assert status == "confirmed" and "by omar" in detail and "all green" in detail


def test_an_open_sev1_fails_the_incident_item_until_it_is_resolved(sandbox: Sandbox) -> None:
    _spec(sandbox)
    sandbox.run("checklist", "--env", "staging")  # creates the store
    with sandbox.store().session() as s:
        s.add(Incident(id="inc-20261125-1430", title="Checkout down", severity=1,
                       status="investigating", service=None, environment="production",
                       opened_by="pager", opened_at=now()))
    production = json.loads(sandbox.run("checklist", "--env", "production", "--json").stdout)
    status, detail = _items(production)["no-major-incident"]
    assert status == "fail"
    assert detail == "1 open incident(s) at SEV2 or worse: SEV1 Checkout down"
    staging = json.loads(sandbox.run("checklist", "--env", "staging", "--json").stdout)
    assert _items(staging)["no-major-incident"][0] == "pass"  # another environment
    with sandbox.store().session() as s:
        row = s.get(Incident, "inc-20261125-1430")
        assert row is not None
        row.status = "resolved"
    again = json.loads(sandbox.run("checklist", "--env", "production", "--json").stdout)
    assert _items(again)["no-major-incident"][0] == "pass"


def test_a_deploy_needs_its_versions_confirmations_and_runs_the_checks_first(
        sandbox: Sandbox) -> None:
    _spec(sandbox, policies={"strict_checklists": False})
    refused = sandbox.run("deploy", "web", "--env", "production", "--version", "v1")
    assert refused.returncode == 3
    said = " ".join(refused.stderr.split())
    assert "the pre-deploy checklist of production has 2 unconfirmed item(s)" in said
    assert "code-review (Code review approved by at least 2 team members)" in said
    assert ("rollgate checklist --env production --service web --version v1 --confirm ITEM"
            in said)
    confirm = ("checklist", "--env", "production", "--service", "web", "--confirm",
               "code-review", "--confirm", "rollback-authority-designated")
    assert sandbox.run(*confirm, "--version", "v1", actor="dana").returncode == 0
    done = sandbox.run("deploy", "web", "--env", "production", "--version", "v1")
    assert done.returncode == 0, done.stdout + done.stderr
    run = sandbox.json("runs", "show", sandbox.latest_run("v1"))
    step = run["steps"][1]
    assert step["name"] == "pre-deploy checklist" and step["state"] == "succeeded"
    assert "WARN disk-space: exit 1: disk 91% full" in step["output"]
    assert "ok code-review: by dana" in step["output"]
    # v1's confirmations are not v2's.
    assert sandbox.run("deploy", "web", "--env", "production", "--version", "v2"
                       ).returncode == 3


def test_a_strict_environment_fails_the_run_on_a_warning_before_touching_anything(
        sandbox: Sandbox) -> None:
    _spec(sandbox, policies={"strict_checklists": True})
    assert sandbox.run("checklist", "--env", "production", "--service", "web", "--version",
                       "v1", "--confirm", "code-review", "--confirm",
                       "rollback-authority-designated").returncode == 1  # strict: warning
    failed = sandbox.run("deploy", "web", "--env", "production", "--version", "v1")
    assert failed.returncode == 1
    run = sandbox.json("runs", "show", sandbox.latest_run("v1"))
    assert run["status"] == "failed"
    assert "pre-deploy checklist (strict: warnings fail): disk-space warning" in run["error"]
    # Nothing was started, stopped or routed: the run ended at the checklist.
    assert [s["name"] for s in run["steps"]] == ["plan", "pre-deploy checklist"]


def test_validate_names_the_line_of_a_wrong_checklist_item(sandbox: Sandbox) -> None:
    sandbox.spec_path.write_text(
        "project: shop\n"
        "services:\n"
        "  web: {command: 'true', port: 8080}\n"
        "environments:\n"
        "  production: {}\n"
        "checks:\n"
        "  home: {kind: http}\n"
        "checklists:\n"
        "  pre-deploy:\n"
        "    - check: home\n"
        "      manual: Code review approved\n"
        "    - check: hom\n")
    result = sandbox.run("validate")
    assert result.returncode == 2
    assert ("rollgate.yaml:10: checklists.pre-deploy[0]: an item is either `check: NAME` "
            "(automated) or `manual: TEXT`") in " ".join(result.stderr.split())
