"""`rollgate audit list | verify` over a real project's store."""

from __future__ import annotations

from sqlalchemy import update

from rollgate.store.tables import AuditEvent
from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def test_audit_verify_names_the_first_edited_row(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"})
    assert deploy(sandbox, "v1").returncode == 0
    assert deploy(sandbox, "v2").returncode == 0
    events = sandbox.json("audit", "list")
    assert [e["action"] for e in events] == ["run.succeeded", "deploy.requested"] * 2
    assert {e["actor"] for e in events} == {"tester"}
    latest = sandbox.json("audit", "list", "--action", "deploy.")[0]["detail"]
    assert (latest["before"], latest["after"]) == ("v1", "v2")
    intact = sandbox.run("audit", "verify")
    assert intact.returncode == 0 and "4 events" in intact.stdout

    with sandbox.store().session() as s:  # someone rewrites history by hand
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2)
                  .values(detail={"run": "run-x", "kind": "deploy", "version": "v9"}))
    broken = sandbox.run("audit", "verify")
    assert broken.returncode == 1
    assert "broken at event 2" in broken.stdout and "edited" in broken.stdout


def test_a_changed_spec_is_audited_with_what_changed(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"})
    assert deploy(sandbox, "v1").returncode == 0
    setup(sandbox, {"kind": "rolling"}, replicas=2)  # someone edits rollgate.yaml
    assert deploy(sandbox, "v2").returncode == 0
    changed = sandbox.json("audit", "list", "--action", "config.")
    assert len(changed) == 1
    paths = changed[0]["detail"]["changed"]
    assert "environments.production.strategy" in paths
    assert "services.web.replicas" in paths and "services.web.port" in paths
