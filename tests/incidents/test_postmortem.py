"""Post-mortems: drafted on resolve with the timeline, the impact window, linked runs and
rollbacks, due per the level; action items and the post-incident checklist shown live; a
person's edits survive a reopen; closing waits for publication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.errors import RefusedError, UsageError
from rollgate.incidents import actions, lifecycle, postmortem, service
from rollgate.spec.checklists import Checklists
from rollgate.spec.incidents import IncidentPolicy
from rollgate.store.db import Database
from rollgate.store.tables import Incident, IncidentEvent, Postmortem, Rollback, Run
from rollgate.testing import Sandbox, free_port

T0 = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEV0_3 = IncidentPolicy()
MANTIS = IncidentPolicy(severity="mantisnxt")



def _run(s: Session, run_id: str, kind: str, version: str, from_version: str, at: datetime,
         reason: str | None = None) -> Run:
    row = Run(id=run_id, kind=kind, service="web", environment="production", version=version,
              from_version=from_version, strategy="blue-green", status="succeeded",
              reason=reason, actor="ci", spec={}, spec_dir="/srv", cancel_requested=False,
              created_at=at, started_at=at, finished_at=at + MIN)
    s.add(row)
    return row


def _incident(db: Database, policy: IncidentPolicy = SEV0_3, level: str = "SEV1",
              tag: str = "") -> str:
    """A SEV1 on web/production: roles, an ack, notes, the deploy that caused it and the
    rollback that mitigated it, then mitigating."""
    with db.session() as s:
        inc = service.open_incident(session=s, policy=policy, title="Checkout down",
                                    actor="alice", at=T0, level=level, service="web",
                                    environment="production",
                                    summary="Checkout fails for 30% of users | EU")
        service.assign(session=s, incident=inc, role="ic", person="dana", actor="alice",
                       at=T0 + 2 * MIN)
        service.acknowledge(session=s, incident=inc, actor="bob", at=T0 + 3 * MIN)
        service.note(session=s, incident=inc, text="DB pool exhausted since v2", actor="carol",
                     at=T0 + 10 * MIN)
        _run(s, f"run-deploy-v2{tag}", "deploy", "v2", "v1", T0 - 30 * MIN, reason="release 2")
        _run(s, f"run-rollback-v1{tag}", "rollback", "v1", "v2", T0 + 11 * MIN,
             reason="pool exhaustion")
        s.flush()
        s.add(Rollback(run_id=f"run-rollback-v1{tag}", service="web", environment="production",
                       scope="app", trigger="manual", from_version="v2", to_version="v1",
                       reason="pool exhaustion", actor="dana", status="succeeded",
                       at=T0 + 12 * MIN))
        service.link(session=s, incident=inc, kind="run", ref=f"run-deploy-v2{tag}", actor="dana",
                     at=T0 + 11 * MIN)
        service.link(session=s, incident=inc, kind="rollback", ref=f"run-rollback-v1{tag}",
                     actor="dana", at=T0 + 12 * MIN)
        service.move(session=s, incident=inc, to=lifecycle.MITIGATING, actor="dana",
                     at=T0 + 13 * MIN, policy=policy)
        return inc.id


def _move(db: Database, inc_id: str, to: str, at: datetime,
          policy: IncidentPolicy = SEV0_3, force: bool = False) -> None:
    with db.session() as s:
        inc = service.get(session=s, incident_id=inc_id)
        service.move(session=s, incident=inc, to=to, actor="dana", at=at, policy=policy,
                     force=force)


def _pm(db: Database, inc_id: str) -> Postmortem:
    with db.read() as s:
        row = s.get(Postmortem, inc_id)
        assert row is not None
        return row


def _events(db: Database, inc_id: str, kind: str) -> list[IncidentEvent]:
    with db.read() as s:
        return list(s.scalars(select(IncidentEvent).where(
            IncidentEvent.incident_id == inc_id, IncidentEvent.kind == kind)
            .order_by(IncidentEvent.id)))


def test_resolve_drafts_the_post_mortem_with_timeline_window_links_and_a_72h_due_date(
        db: Database) -> None:
    inc_id = _incident(db)
    with db.read() as s:
        assert s.get(Postmortem, inc_id) is None  # not before it is resolved
    _move(db, inc_id, lifecycle.RESOLVED, T0 + 45 * MIN)
    pm = _pm(db, inc_id)
    resolved = T0 + 45 * MIN
    assert (pm.status, pm.due_at) == ("draft", resolved + timedelta(hours=72))
    with db.read() as s:
        assert service.get(session=s, incident_id=inc_id).postmortem_due_at == pm.due_at
    body = pm.body
    assert body.startswith("# Post-mortem: Checkout down\n")
    assert "| Level | SEV1 (Critical Degradation) |" in body
    assert ("| Impact window | 2025-01-06 14:00 UTC → 2025-01-06 14:45 UTC (45 min) |"
            in body)
    assert "| Acknowledged | 2025-01-06 14:03 UTC by bob (3 min after opening) |" in body
    assert "| Post-mortem due | 2025-01-09 14:45 UTC |" in body
    assert "Checkout fails for 30% of users | EU" in body  # the summary, as written
    assert "- Incident Commander: dana" in body
    # every timeline entry, timestamped, with its actor
    assert "| 2025-01-06 14:10:00 | carol | note | DB pool exhausted since v2 |" in body
    assert "| 2025-01-06 14:02:00 | alice | role | Incident Commander: dana |" in body
    assert "| 2025-01-06 14:45:00 | dana | status | mitigating → resolved |" in body
    # the deploy that caused it and the rollback that mitigated it, with versions, reasons
    assert ("| run-deploy-v2 | deploy | web/production | v1 → v2 | succeeded | release 2 |"
            in body)
    assert "| run-rollback-v1 | rollback | web/production | v2 → v1 | succeeded |" in body
    assert ("(run run-rollback-v1) | 2025-01-06 14:12 UTC | web/production | v2 → v1 | app | "
            "manual | pool exhaustion |") in body
    for title in ("Root cause", "Contributing factors", "What went well", "What went badly"):
        assert f"## {title}\n\n{postmortem.PLACEHOLDERS[title]}" in body
    drafted = _events(db, inc_id, "postmortem")
    assert len(drafted) == 1 and "due 2025-01-09 14:45 UTC" in drafted[0].text


def test_the_due_date_follows_the_policy_and_some_levels_need_none(db: Database) -> None:
    mantis = _incident(db, MANTIS)
    _move(db, mantis, lifecycle.RESOLVED, T0 + 60 * MIN, policy=MANTIS)
    assert _pm(db, mantis).due_at == T0 + 60 * MIN + timedelta(hours=48)  # seed 002: 48 h
    minor = _incident(db, SEV0_3, level="SEV3", tag="-minor")
    _move(db, minor, lifecycle.RESOLVED, T0 + 60 * MIN)
    pm = _pm(db, minor)
    assert pm.due_at is None and "| Post-mortem due | none required at this level |" in pm.body
    _move(db, minor, lifecycle.CLOSED, T0 + 61 * MIN)  # nothing to publish first


def test_action_items_and_the_checklist_are_rendered_live_below_the_body(
        db: Database) -> None:
    inc_id = _incident(db)
    _move(db, inc_id, lifecycle.RESOLVED, T0 + 45 * MIN)
    at = T0 + 2 * 60 * MIN
    with db.session() as s:
        inc = service.get(session=s, incident_id=inc_id)
        first = actions.add(session=s, incident=inc, title="Alert on pool saturation",
                            owner="bob", due="7d", actor="dana", at=at)
        actions.add(session=s, incident=inc, title="Load test | pool size", owner="carol",
                    due="2025-01-08", actor="dana", at=at)
        with pytest.raises(UsageError, match="owner"):
            actions.add(session=s, incident=inc, title="x", owner=" ", due=None,
                        actor="dana", at=at)
        with pytest.raises(UsageError, match="give a duration"):
            actions.add(session=s, incident=inc, title="x", owner="bob", due="next week",
                        actor="dana", at=at)
        postmortem.confirm(session=s, incident=inc, items=postmortem.DEFAULT_CHECKLIST,
                           confirm_ids=["customer-comms"], actor="erin", at=at,
                           comment="status page")
        with pytest.raises(UsageError, match="its manual items: rca, action-items"):
            postmortem.confirm(session=s, incident=inc, items=postmortem.DEFAULT_CHECKLIST,
                               confirm_ids=["nope"], actor="erin", at=at)
    with db.session() as s:
        actions.done(session=s, item_id=first.id, actor="bob", at=at + 60 * MIN)
        with pytest.raises(RefusedError, match="done already"):
            actions.done(session=s, item_id=first.id, actor="bob", at=at + 61 * MIN)
    with db.read() as s:
        inc = service.get(session=s, incident_id=inc_id)
        shown = postmortem.render(session=s, incident=inc, at=T0 + 3 * 24 * 60 * MIN)
        timeline = [e.text for e in service.timeline(session=s, incident_id=inc_id)]
    body, live = shown.split(postmortem.LIVE_MARK)
    assert "## Timeline" in body and "## Action items" in live
    assert (f"| {first.id} | Alert on pool saturation | bob | 2025-01-13 16:00 UTC | done |"
            in live)
    assert "| Load test \\| pool size | carol | 2025-01-08 23:59 UTC | overdue |" in live
    assert "- [ ] RCA drafted and approved (`rca`): pending, not confirmed yet" in live
    assert "- [x] Customer comms sent (if applicable) (`customer-comms`): confirmed, by erin" \
        in live and "status page" in live
    assert f"action item #{first.id}: Alert on pool saturation (owner bob, due " \
           "2025-01-13 16:00 UTC)" in timeline
    assert f"action item #{first.id} done: Alert on pool saturation" in timeline
    assert any(t.startswith("post-incident checklist: Customer comms sent") for t in timeline)


def test_the_spec_post_incident_checklist_replaces_the_seed_items(db: Database) -> None:
    inc_id = _incident(db)
    checklists = Checklists.model_validate({"post-incident": [
        {"manual": "Jira ticket linked", "id": "jira"},
        {"manual": "Only for staging", "environments": ["staging"]}]})
    with db.read() as s:
        inc = service.get(session=s, incident_id=inc_id)
        items = postmortem.checklist_items(checklists, inc)
        assert [i.key for i in items] == ["jira"]  # scoped to the incident's environment
        assert postmortem.checklist_items(Checklists(), inc) == \
            list(postmortem.DEFAULT_CHECKLIST)


def test_an_edited_post_mortem_survives_reopen_and_resolve_an_untouched_one_is_refreshed(
        db: Database) -> None:
    edited, untouched = _incident(db), _incident(db, tag="-2")
    for inc_id in (edited, untouched):
        _move(db, inc_id, lifecycle.RESOLVED, T0 + 45 * MIN)
    with db.session() as s:
        inc = service.get(session=s, incident_id=edited)
        shown = postmortem.render(session=s, incident=inc, at=T0 + 50 * MIN)
        mine = shown.replace(postmortem.PLACEHOLDERS["Root cause"],
                             "The v2 pool size was 5, not 50.")
        postmortem.edit(session=s, incident=inc, body=mine, actor="dana", at=T0 + 50 * MIN)
    kept = _pm(db, edited).body
    assert postmortem.LIVE_MARK not in kept and not kept.startswith("<!--")
    assert postmortem.section(kept, "Root cause") == "The v2 pool size was 5, not 50."
    for inc_id in (edited, untouched):
        _move(db, inc_id, lifecycle.INVESTIGATING, T0 + 60 * MIN)
        with db.read() as s:
            assert service.get(session=s, incident_id=inc_id).postmortem_due_at is None
        with db.session() as s:
            service.note(session=s, incident=service.get(session=s, incident_id=inc_id),
                         text="errors are back after the rollback", actor="carol",
                         at=T0 + 62 * MIN)
        _move(db, inc_id, lifecycle.RESOLVED, T0 + 90 * MIN)
    assert _pm(db, edited).body == kept  # a person's words are never overwritten
    assert _pm(db, edited).due_at == T0 + 90 * MIN + timedelta(hours=72)
    assert "kept as it is (edited by a person)" in _events(db, edited, "postmortem")[-1].text
    refreshed = _pm(db, untouched).body
    assert "| 2025-01-06 15:02:00 | carol | note | errors are back after the rollback |" \
        in refreshed
    assert "(1 h 30 min)" in refreshed
    assert "refreshed" in _events(db, untouched, "postmortem")[-1].text


def test_closing_waits_for_a_published_post_mortem_with_a_root_cause(db: Database) -> None:
    inc_id = _incident(db)
    _move(db, inc_id, lifecycle.RESOLVED, T0 + 45 * MIN)
    with pytest.raises(RefusedError) as refused:
        _move(db, inc_id, lifecycle.CLOSED, T0 + 50 * MIN)
    assert f"`rollgate incident postmortem {inc_id} --publish`" in refused.value.message
    with db.session() as s, pytest.raises(RefusedError, match="has no root cause yet"):
        postmortem.publish(session=s, incident=service.get(session=s, incident_id=inc_id),
                           actor="dana", at=T0 + 50 * MIN)
    with db.session() as s:
        inc = service.get(session=s, incident_id=inc_id)
        body = _pm(db, inc_id).body.replace(postmortem.PLACEHOLDERS["Root cause"],
                                            "Pool size misconfigured in v2.")
        postmortem.edit(session=s, incident=inc, body=body, actor="dana", at=T0 + 70 * MIN)
        postmortem.publish(session=s, incident=inc, actor="dana", at=T0 + 80 * 60 * MIN)
    pm = _pm(db, inc_id)
    assert (pm.status, pm.published_at) == ("published", T0 + 80 * 60 * MIN)
    assert "published by dana (7 h 15 min after it was due)" in \
        _events(db, inc_id, "postmortem")[-1].text
    _move(db, inc_id, lifecycle.CLOSED, T0 + 81 * 60 * MIN)
    with db.read() as s:
        assert s.get(Incident, inc_id).status == "closed"  # type: ignore[union-attr]


def test_force_closes_without_a_post_mortem_and_says_so(db: Database) -> None:
    inc_id = _incident(db)
    _move(db, inc_id, lifecycle.RESOLVED, T0 + 45 * MIN)
    _move(db, inc_id, lifecycle.CLOSED, T0 + 50 * MIN, force=True)
    closing = [e for e in _events(db, inc_id, "status") if e.detail
               and e.detail["to"] == "closed"]
    assert closing[0].text == "resolved → closed (forced: the post-mortem is not published)"


def test_the_cli_renders_messages_runs_action_items_and_publishes_the_post_mortem(
        sandbox: Sandbox) -> None:
    sandbox.write_spec({
        "project": "shop", "services": {"web": {"command": "true", "port": free_port()}},
        "environments": {"production": {}},
        "checklists": {"post-incident": [{"manual": "Jira ticket linked", "id": "jira"}]}})
    opened = sandbox.json("incident", "open", "Checkout down", "--sev", "SEV1", "--service",
                          "web", "--env", "production", "--summary", "Checkout fails")
    inc = opened["id"]
    first = sandbox.run("incident", "comms", inc)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Subject: [SEV1] Incident: Checkout down (web/production)")
    assert "🚨 INCIDENT REPORT" in first.stdout and "Impact: Checkout fails" in first.stdout
    sent = sandbox.run("incident", "comms", inc, "--kind", "update", "-m", "Rolled back to v1",
                       "--record", actor="erin")
    assert sent.returncode == 0, sent.stderr
    assert "- Findings: Rolled back to v1" in sent.stdout and "recorded on" in sent.stdout
    assert sandbox.run("incident", "resolve", inc).returncode == 0

    shown = sandbox.run("incident", "postmortem", inc)
    assert shown.returncode == 0, shown.stderr
    assert "# Post-mortem: Checkout down" in shown.stdout
    assert "| erin | update | update message recorded (" in shown.stdout
    assert "- [ ] Jira ticket linked (`jira`): pending" in shown.stdout  # the spec's item
    closing = sandbox.run("incident", "close", inc)
    assert closing.returncode == 3
    assert f"rollgate incident postmortem {inc} --publish" in closing.stderr

    item = sandbox.json("incident", "action", "add", inc, "Alert on pool saturation",
                        "--owner", "bob", "--due", "7d")
    assert (item["owner"], item["state"]) == ("bob", "open")
    assert sandbox.run("incident", "action", "done", str(item["id"]), actor="bob").returncode == 0
    listed = sandbox.json("incident", "action", "list", inc)
    assert [(a["id"], a["state"]) for a in listed] == [(item["id"], "done")]

    early = sandbox.run("incident", "postmortem", inc, "--publish")
    assert early.returncode == 3 and "no root cause yet" in early.stderr
    draft = sandbox.root / "pm.md"
    assert sandbox.run("incident", "postmortem", inc, "--write", str(draft)).returncode == 0
    draft.write_text(draft.read_text().replace(postmortem.PLACEHOLDERS["Root cause"],
                                               "Pool size 5 in v2."))
    done = sandbox.run("incident", "postmortem", inc, "--edit-from", str(draft), "--publish",
                       "--confirm", "jira", "--comment", "OPS-12", actor="dana")
    assert done.returncode == 0, done.stderr
    result = sandbox.json("incident", "postmortem", inc)
    assert result["status"] == "published"
    assert "## Root cause\n\nPool size 5 in v2.\n" in result["body"]
    assert [(c["id"], c["status"], c["by"]) for c in result["checklist"]] == [
        ("jira", "confirmed", "dana")]
    assert "- [x] Jira ticket linked (`jira`): confirmed, by dana" in result["document"]
    assert sandbox.run("incident", "close", inc).returncode == 0
