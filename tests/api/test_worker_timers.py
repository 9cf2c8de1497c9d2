"""The server's worker fires the incident timers due at each pass, once."""

from __future__ import annotations

from datetime import timedelta

from rollgate.api.worker import Worker
from rollgate.engine.runtime import Runtime
from rollgate.incidents import service
from rollgate.runs.service import Project
from rollgate.settings import Settings
from rollgate.spec.loader import load_spec
from rollgate.store.runs import now
from rollgate.testing import Sandbox, free_port


def test_a_worker_pass_writes_the_reminders_and_escalations_due_now(sandbox: Sandbox) -> None:
    sandbox.write_spec({"project": "shop",
                        "services": {"web": {"command": "true", "port": free_port()}},
                        "environments": {"production": {}}})
    project = Project(spec=load_spec(sandbox.spec_path), spec_dir=sandbox.root)
    rt = Runtime(Settings(spec=sandbox.spec_path, state_dir=sandbox.state_dir,
                          database_url=sandbox.database_url), kind="test")
    try:
        opened = now() - timedelta(minutes=20)  # SEV1: update, status page and ack due at 15
        with rt.db.session() as s:
            inc = service.open_incident(session=s, policy=project.spec.incidents,
                                        title="Checkout down", actor="tester", at=opened,
                                        level="SEV1").id
        worker = Worker(rt, lambda: project)

        worker.run_once()
        with rt.db.read() as s:
            first = service.timeline(session=s, incident_id=inc)
        fired = sorted((e.detail or {}).get("timer", "") for e in first
                       if e.kind in ("reminder", "escalation"))
        assert fired == ["escalation", "statuspage", "update"]
        (escalation,) = [e for e in first if e.kind == "escalation"]
        assert escalation.at == opened + timedelta(minutes=15)
        assert escalation.text == "paged Ops lead (ops-lead): not acknowledged within 15 min"

        worker.run_once()  # the next pass finds them written
        with rt.db.read() as s:
            assert len(service.timeline(session=s, incident_id=inc)) == len(first)
    finally:
        rt.close()
