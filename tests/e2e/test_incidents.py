"""Incidents from the terminal: an automatic rollback opens one linked to its run, and a
person runs one through its whole lifecycle with roles and a timeline."""

from __future__ import annotations

import httpx

from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def _failing_check_spec(sandbox: Sandbox, incidents: str = "") -> int:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "5m"})
    spec = sandbox.spec_path.read_text().replace("environments:", "checks:\n  items:\n"
                                                 "    kind: http\n    path: /api/items\n"
                                                 "environments:")
    spec = spec.replace("    strategy:", "    checks: [items]\n    strategy:")
    sandbox.spec_path.write_text(spec + incidents)
    assert sandbox.run("validate").returncode == 0, sandbox.run("validate").stderr
    return port


def test_an_automatic_rollback_opens_an_incident_linked_to_its_run(sandbox: Sandbox) -> None:
    port = _failing_check_spec(sandbox, "incidents:\n  severity: sev0-3\n"
                                        "  on_rollback: {level: SEV2}\n")
    sandbox.set_faults({"v2": {"error_rate": 1.0}})
    assert deploy(sandbox, "v1").returncode == 0
    assert sandbox.json("incident", "list") == []  # a good deploy opens nothing
    assert deploy(sandbox, "v2").returncode == 1
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v1"
    run_id = sandbox.latest_run("v2")
    [incident] = sandbox.json("incident", "list")
    assert (incident["source"], incident["status"], incident["level"]) == (
        "rollback", "mitigating", "SEV2")
    assert incident["run_id"] == run_id
    assert incident["title"] == "web v2 rolled back to v1 automatically in production"
    assert "post-deploy check failed: items" in incident["summary"]
    assert incident["channel"].startswith("#inc-")
    detail = sandbox.json("incident", "show", incident["id"])
    assert {"kind": "run", "ref": run_id} in [{"kind": lk["kind"], "ref": lk["ref"]}
                                              for lk in detail["links"]]
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[0] == "opened" and "rollback" in kinds and "page" in kinds
    [advice] = [e["text"] for e in detail["timeline"] if e["kind"] == "recommendation"]
    assert advice.startswith(f"SEV2: already mitigated — rollgate rolled back run {run_id}")


def test_on_rollback_can_be_turned_off_per_environment(sandbox: Sandbox) -> None:
    _failing_check_spec(sandbox, "incidents:\n  on_rollback: {environments: [staging]}\n")
    sandbox.set_faults({"v2": {"error_rate": 1.0}})
    assert deploy(sandbox, "v1").returncode == 0
    assert deploy(sandbox, "v2").returncode == 1
    assert sandbox.json("runs", "show", sandbox.latest_run("v2"))["status"] == "rolled_back"
    assert sandbox.json("incident", "list", "--all") == []


def test_a_person_runs_an_incident_from_open_to_resolved(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"})
    opened = sandbox.run("incident", "open", "Checkout down", "--sev", "1", "--service", "web",
                         "--env", "production", "--summary", "nobody can pay", actor="ana")
    assert opened.returncode == 0, opened.stderr
    assert "SEV1" in opened.stdout and "#inc-" in opened.stdout
    [row] = sandbox.json("incident", "list")
    inc = row["id"]
    steps = [
        (("assign", inc, "ic", "ana"), "ana"), (("assign", inc, "ops", "omar"), "ana"),
        (("ack", inc), "omar"), (("status", inc, "identified", "-m", "bad config"), "ana"),
        (("assign", inc, "ic", "bea"), "ana"), (("note", inc, "flag off", "--public"), "bea"),
        (("status", inc, "mitigating"), "bea"), (("resolve", inc, "-m", "error rate flat"), "bea"),
        (("reopen", inc, "-m", "errors are back"), "omar"), (("resolve", inc), "bea"),
    ]
    for args, who in steps:
        proc = sandbox.run("incident", *args, actor=who)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    refused = sandbox.run("incident", "status", inc, "identified")
    assert refused.returncode == 3 and "resolved" in refused.stderr
    bad_role = sandbox.run("incident", "assign", inc, "chef", "x")
    assert bad_role.returncode == 2 and "roles: commander, ops" in bad_role.stderr
    detail = sandbox.json("incident", "show", inc)
    assert detail["status"] == "resolved" and detail["acknowledged_by"] == "omar"
    assert detail["roles"] == {"commander": "bea", "ops": "omar"}
    lines = [(e["actor"], e["kind"], e["text"]) for e in detail["timeline"]
             if e["actor"] != "rollgate"]
    assert lines == [
        ("ana", "opened", lines[0][2]),
        ("ana", "role", "Incident Commander: ana"),
        ("ana", "role", "Ops lead: omar"),
        ("omar", "ack", lines[3][2]),
        ("ana", "status", "investigating → identified: bad config"),
        ("ana", "role", "Incident Commander: bea (was ana)"),
        ("bea", "update", "flag off"),
        ("bea", "status", "identified → mitigating"),
        ("bea", "status", "mitigating → resolved: error rate flat"),
        ("omar", "reopened", "resolved → investigating: errors are back"),
        ("bea", "status", "investigating → resolved"),
    ]
    stamps = [e["at"] for e in detail["timeline"]]
    assert stamps == sorted(stamps)
    assert [e["public"] for e in detail["timeline"] if e["kind"] == "update"] == [True]
    shown = sandbox.run("incident", "show", detail["channel"])  # the channel names it too
    assert shown.returncode == 0 and "Incident Commander: bea (was ana)" in shown.stdout
