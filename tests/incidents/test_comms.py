"""Incident messages: the built-in initial, update and resolution messages rendered from a
real incident; the spec's templates override them and are checked when the spec loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rollgate.errors import SpecError, UsageError
from rollgate.incidents import actions, comms, lifecycle, postmortem, service
from rollgate.spec.incidents import TEMPLATE_NAMES, IncidentPolicy, Templates
from rollgate.spec.loader import load_spec
from rollgate.store.db import Database
from rollgate.store.tables import Run

T0 = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
POLICY = IncidentPolicy()
BASE = ("project: shop\nservices:\n  web: {command: 'true', port: 8080}\n"
        "environments:\n  production: {}\n")



def _incident(db: Database, *, commander: bool = True) -> str:
    with db.session() as s:
        inc = service.open_incident(session=s, policy=POLICY, title="Login failing",
                                    actor="alice", at=T0, level="SEV1", service="web",
                                    environment="production",
                                    summary="40% of logins return 500")
        if commander:
            service.assign(session=s, incident=inc, role="ic", person="dana", actor="alice",
                           at=T0 + 2 * MIN)
        service.note(session=s, incident=inc, text="sessions table locked", actor="carol",
                     at=T0 + 8 * MIN)
        s.add(Run(id="run-web-v7", kind="deploy", service="web", environment="production",
                  version="v7", from_version="v6", strategy="rolling", status="succeeded",
                  reason=None, actor="ci", spec={}, spec_dir="/srv", cancel_requested=False,
                  created_at=T0 - 20 * MIN, finished_at=T0 - 15 * MIN))
        s.flush()
        service.link(session=s, incident=inc, kind="run", ref="run-web-v7", actor="dana",
                     at=T0 + 9 * MIN)
        return inc.id


def _render(db: Database, inc_id: str, kind: comms.Kind, at: datetime,
            policy: IncidentPolicy = POLICY, **extra: str) -> comms.Message:
    with db.read() as s:
        inc = service.get(session=s, incident_id=inc_id)
        return comms.render(session=s, policy=policy, incident=inc, kind=kind, at=at,
                            **extra)


def _lines(message: comms.Message) -> list[str]:
    return message.body.splitlines()


def test_the_initial_report_carries_the_seeds_fields_from_the_record(db: Database) -> None:
    inc_id = _incident(db)
    with db.read() as s:
        assert comms.default_kind(service.get(session=s, incident_id=inc_id)) == "initial"
    msg = _render(db, inc_id, "initial", T0 + 10 * MIN)
    assert msg.subject == "[SEV1] Incident: Login failing (web/production)"
    lines = _lines(msg)
    assert lines[0] == "@channel SEV1 INCIDENT: Login failing"  # seed 001
    assert lines[1] == "🚨 INCIDENT REPORT"  # seed 002
    for line in ("Severity: SEV1 - Critical Degradation", "Status: Investigating",
                 "Started: 2025-01-06 14:00 UTC", "Services Affected: web/production",
                 "Impact: 40% of logins return 500", "Lead: dana",
                 "Channel: #inc-20250106-1400", "sessions table locked",
                 "- 14:02 Incident Commander: dana", "- 14:09 linked run run-web-v7",
                 "ETA: not known yet", "NEXT UPDATE: in 15 min (by 14:25 UTC)",
                 "Updated: 2025-01-06 14:10 UTC"):
        assert line in lines, line
    current = lines.index("Current Status:")
    assert lines[current + 1] == "sessions table locked"
    assert msg.text.startswith("Subject: [SEV1] Incident: Login failing (web/production)\n\n@")


def test_an_update_recorded_is_a_public_update_and_the_next_one_builds_on_it(
        db: Database) -> None:
    inc_id = _incident(db)
    with db.session() as s:
        inc = service.get(session=s, incident_id=inc_id)
        msg, event = comms.record(session=s, policy=POLICY, incident=inc, kind="update",
                                  actor="erin", at=T0 + 15 * MIN,
                                  message="Lock released; logins recovering", eta="20 min")
        assert (event.public, event.kind, event.actor) == (True, "update", "erin")
        assert event.text == msg.text.strip()  # the whole message is on the timeline
        assert inc.last_public_at == T0 + 15 * MIN  # the status page clock restarts
        assert comms.default_kind(inc) == "update"
    assert msg.subject == "[SEV1] UPDATE 2025-01-06 14:15 UTC: Login failing"
    lines = _lines(msg)
    assert lines[0] == "UPDATE 2025-01-06 14:15 UTC: SEV1 INCIDENT: Login failing"  # seed 001
    assert "- Findings: Lock released; logins recovering" in lines
    assert "- ETA: 20 min" in lines and "- Current status: Investigating" in lines
    later = _render(db, inc_id, "update", T0 + 30 * MIN)
    assert "- Findings: Lock released; logins recovering" in _lines(later)
    assert "UPDATE 2025-01-06 14:15" not in later.body  # never quotes the last message
    with db.read() as s:
        timeline = service.timeline(session=s, incident_id=inc_id)
    assert [e.kind for e in timeline].count("update") == 1  # rendering records nothing


def test_the_resolution_has_downtime_root_cause_links_and_follow_ups(db: Database) -> None:
    inc_id = _incident(db)
    with db.session() as s:
        inc = service.get(session=s, incident_id=inc_id)
        service.move(session=s, incident=inc, to=lifecycle.RESOLVED, actor="dana",
                     at=T0 + 45 * MIN, policy=POLICY)
        actions.add(session=s, incident=inc, title="Index sessions.user_id", owner="bob",
                    due="3d", actor="dana", at=T0 + 50 * MIN)
        assert comms.default_kind(inc) == "resolution"
    msg = _render(db, inc_id, "resolution", T0 + 50 * MIN)
    assert msg.subject == "[RESOLVED] [SEV1] Login failing"  # seed 003
    lines = _lines(msg)
    for line in ("- Resolution Time: 2025-01-06 14:45 UTC", "- Total Downtime: 45 min",
                 "- Root Cause: under investigation",
                 "- deploy web/production v6 → v7: succeeded (run run-web-v7)",
                 "- Post-mortem: due 2025-01-09 14:45 UTC",
                 "- Action: Index sessions.user_id (bob, due 2025-01-09 14:50 UTC, open)",
                 "- 14:45 investigating → resolved",
                 "STATUS: Resolved: all services operational, monitoring continues"):
        assert line in lines, line
    with db.session() as s:
        inc = service.get(session=s, incident_id=inc_id)
        body = postmortem.get(session=s, incident=inc).body.replace(
            postmortem.PLACEHOLDERS["Root cause"],
            "A migration locked the sessions table\nfor 40 minutes.")
        postmortem.edit(session=s, incident=inc, body=body, actor="dana", at=T0 + 60 * MIN)
    later = _render(db, inc_id, "resolution", T0 + 61 * MIN)
    assert "- Root Cause: A migration locked the sessions table for 40 minutes." in \
        _lines(later)


def test_every_template_name_is_filled_and_the_built_ins_pass_the_spec_check(
        db: Database) -> None:
    inc_id = _incident(db)
    with db.read() as s:
        inc = service.get(session=s, incident_id=inc_id)
        values = comms.context(session=s, policy=POLICY, incident=inc, kind="update",
                               at=T0 + MIN)
    assert set(values) == TEMPLATE_NAMES
    assert values["roles"] == {"commander": "dana"}
    Templates(**comms.BUILT_IN)  # the spec's check accepts what rollgate ships
    with pytest.raises(UsageError, match="kinds: initial, update, resolution"):
        comms.check_kind("final")


def test_a_spec_template_replaces_the_built_in_one(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "rollgate.yaml"
    path.write_text(BASE + "incidents:\n  templates:\n    update: |\n"
                    "      Subject: {{ level }} {{ title }} is {{ status | lower }}\n"
                    "      {{ current }} (IC {{ roles.commander }}, next {{ next_update }})\n"
                    "      {% for a in actions if a.kind == 'role' %}* {{ a.text }}\n"
                    "      {% endfor %}\n")
    policy = load_spec(path).incidents
    inc_id = _incident(db)
    msg = _render(db, inc_id, "update", T0 + 10 * MIN, policy=policy,
                  message="Failing over to the replica")
    assert msg.subject == "SEV1 Login failing is investigating"
    assert msg.body == ("Failing over to the replica (IC dana, next in 15 min (by 14:25 UTC))\n"
                        "* Incident Commander: dana\n")
    assert _render(db, inc_id, "initial", T0, policy=policy).subject.startswith("[SEV1]")


@pytest.mark.parametrize(("template", "problem"), [
    ("{{ title }", "incidents.templates.initial: template line 1: unexpected '}'"),
    ("Hi\n{% for a in actions %}{{ a.text }}",
     "incidents.templates.initial: template line 2: Unexpected end of template"),
    ("{{ titel }}", "incidents.templates.initial: unknown name 'titel' (did you mean "
                    "'title'?); a template can use action_items, actions,"),
    ("{{ title | shout }}", "incidents.templates.initial: template line 1: No filter named "
                            "'shout'"),
])
def test_a_broken_template_fails_load_spec_naming_the_field(
        tmp_path: Path, template: str, problem: str) -> None:
    path = tmp_path / "rollgate.yaml"
    quoted = template.replace("\n", "\\n")
    path.write_text(BASE + f'incidents:\n  templates:\n    initial: "{quoted}"\n')
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert f"{path}:8: {problem}" in caught.value.message


def test_a_template_that_fails_while_rendering_names_the_field(db: Database) -> None:
    inc_id = _incident(db, commander=False)
    missing = IncidentPolicy(templates=Templates(initial="IC: {{ roles.commander }}"))
    with pytest.raises(SpecError, match=r"incidents\.templates\.initial: 'dict object' has "
                                        r"no attribute 'commander'"):
        _render(db, inc_id, "initial", T0, policy=missing)
    escape = IncidentPolicy(templates=Templates(
        update="{{ title.__class__.__mro__[1].__subclasses__() }}"))
    with pytest.raises(SpecError, match=r"incidents\.templates\.update: .*unsafe"):
        _render(db, inc_id, "update", T0, policy=escape)
