"""The post-mortem of an incident: a Markdown draft written when it is resolved, due
``level.postmortem_within`` later (seed 000: RCA within 72 h for SEV0/1; seed 002: 48 h),
edited by a person and published before the incident may be closed.

The stored body is the document a person owns. Rollgate regenerates it (on a re-resolve)
only while it is a draft nobody has edited: the sha256 of each generated body is kept on the
timeline entry that wrote it, and a body that no longer matches the last one was edited.
The action items and the post-incident checklist change after the draft is written, so
``render`` appends them live, below ``LIVE_MARK``, every time the document is shown.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.errors import NotFoundError, RefusedError, UsageError
from rollgate.gates.checklist import ItemResult
from rollgate.incidents import actions, lifecycle, service
from rollgate.spec.checklists import ChecklistItem, Checklists
from rollgate.spec.incidents import ROLE_TITLES, IncidentPolicy
from rollgate.store import audit
from rollgate.store import checklists as checklist_store
from rollgate.store.tables import Incident, IncidentEvent, Postmortem, Rollback, Run

DRAFT, PUBLISHED = "draft", "published"
PHASE = "post-incident"
LIVE_MARK = ("<!-- rollgate: the sections below are rendered from the store each time it is "
             "shown; edits below this line are not kept -->")
PLACEHOLDERS = {
    "Root cause": "_To be written: what failed, and why it could._",
    "Contributing factors": "_To be written: what made it worse, longer or harder to see._",
    "What went well": "_To be written._",
    "What went badly": "_To be written._",
}
# Seed 000 §7.3, the checklist when the spec has no post-incident items of its own.
DEFAULT_CHECKLIST = (
    ChecklistItem(manual="RCA drafted and approved", id="rca"),
    ChecklistItem(manual="Action items created and scheduled", id="action-items"),
    ChecklistItem(manual="Tests/alerts updated", id="tests-alerts"),
    ChecklistItem(manual="Customer comms sent (if applicable)", id="customer-comms"),
)


def span(seconds: float) -> str:
    """A duration for people: ``45 min``, ``2 h 5 min``, ``3 d 4 h``."""
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def stamp(at: datetime | None, seconds: bool = False) -> str:
    """A UTC time as the documents write it."""
    if at is None:
        return "-"
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if seconds else f"{at:%Y-%m-%d %H:%M} UTC"


def due_at(policy: IncidentPolicy, incident: Incident) -> datetime | None:
    """When the post-mortem is due: resolution + the level's ``postmortem_within`` (None:
    the level needs none, or the incident is not resolved)."""
    within = service.level_of(policy, incident).postmortem_within
    if within is None or incident.resolved_at is None:
        return None
    return incident.resolved_at + timedelta(seconds=within)


def find(*, session: Session, incident_id: str) -> Postmortem | None:
    """The incident's post-mortem, if it has one."""
    return session.get(Postmortem, incident_id)


def get(*, session: Session, incident: Incident) -> Postmortem:
    """The incident's post-mortem, or NotFoundError saying when there will be one."""
    row = find(session=session, incident_id=incident.id)
    if row is None:
        raise NotFoundError(f"{incident.id} has no post-mortem yet: it is drafted when the "
                            f"incident is resolved (`rollgate incident resolve {incident.id}`)")
    return row


def _sha(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _last_generated(session: Session, incident_id: str) -> str | None:
    """The sha256 of the body rollgate generated last (from its timeline entry)."""
    events = session.scalars(select(IncidentEvent).where(
        IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "postmortem")
        .order_by(IncidentEvent.at.desc(), IncidentEvent.id.desc()))
    for event in events:
        if event.detail and "sha256" in event.detail:
            return str(event.detail["sha256"])
    return None


def ensure_draft(*, session: Session, policy: IncidentPolicy, incident: Incident,
                 at: datetime) -> Postmortem:
    """Write the draft when the incident is resolved, with its due date; on a re-resolve,
    refresh it unless a person edited or published it (then say so on the timeline)."""
    due = due_at(policy, incident)
    incident.postmortem_due_at = due
    body = generate(session=session, policy=policy, incident=incident)
    when = f", due {stamp(due)}" if due else " (no post-mortem due at this level)"
    row = find(session=session, incident_id=incident.id)
    if row is None:
        row = Postmortem(incident_id=incident.id, body=body, status=DRAFT, due_at=due,
                         created_at=at, updated_at=at)
        session.add(row)
        session.flush()
        service.add_event(session, incident, kind="postmortem", actor="rollgate", at=at,
                          text=f"post-mortem drafted{when}: `rollgate incident postmortem "
                               f"{incident.id}`",
                          detail={"sha256": _sha(body), "due": due and due.isoformat()})
        return row
    if row.status == DRAFT:
        row.due_at = due
    untouched = row.status == DRAFT and _sha(row.body) == _last_generated(session, incident.id)
    if untouched and row.body != body:
        row.body, row.updated_at = body, at
        service.add_event(session, incident, kind="postmortem", actor="rollgate", at=at,
                          text=f"post-mortem draft refreshed with the timeline since{when}",
                          detail={"sha256": _sha(body), "due": due and due.isoformat()})
    elif not untouched:
        why = "published" if row.status == PUBLISHED else "edited by a person"
        service.add_event(session, incident, kind="postmortem", actor="rollgate", at=at,
                          text=f"post-mortem kept as it is ({why}): add what happened since "
                               "by hand; `rollgate incident show` has the timeline")
    return row


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _links(session: Session, incident: Incident) -> tuple[list[Run], list[Rollback], list[str]]:
    """The linked runs, the rollbacks they (or the links) name, and linked alerts."""
    runs: dict[str, Run] = {}
    rollbacks: dict[int, Rollback] = {}
    alerts: list[str] = []
    for lk in service.links(session=session, incident_id=incident.id):
        if lk.kind == "alert":
            alerts.append(lk.ref)
        elif lk.kind == "rollback" and lk.ref.isdigit():
            found = session.get(Rollback, int(lk.ref))
            if found is not None:
                rollbacks[found.id] = found
        elif (run := session.get(Run, lk.ref)) is not None:
            runs[run.id] = run
    if runs:
        for rb in session.scalars(select(Rollback).where(Rollback.run_id.in_(list(runs)))):
            rollbacks[rb.id] = rb
    return (sorted(runs.values(), key=lambda r: r.created_at),
            sorted(rollbacks.values(), key=lambda r: r.at), alerts)


def _entry(event: IncidentEvent) -> str:
    """A timeline entry's text; a recorded message shows as its subject and what it said
    (the whole message is on the timeline)."""
    detail = event.detail or {}
    if not detail.get("comms"):
        return event.text
    said = f": {detail['message']}" if detail.get("message") else ""
    return f"{detail['comms']} message recorded ({detail.get('subject') or 'no subject'}){said}"


def generate(*, session: Session, policy: IncidentPolicy, incident: Incident) -> str:
    """The generated Markdown body: facts from the store, and placeholders for the parts
    only people can write."""
    level = service.level_of(policy, incident)
    runs, rollbacks, alerts = _links(session, incident)
    services = sorted({x for x in [incident.service, *(r.service for r in runs),
                                   *(r.service for r in rollbacks)] if x})
    envs = sorted({x for x in [incident.environment, *(r.environment for r in runs),
                               *(r.environment for r in rollbacks)] if x})
    start = incident.started_at or incident.opened_at
    window = f"{stamp(start)} → {stamp(incident.resolved_at)}"
    if incident.resolved_at is not None:
        window += f" ({span((incident.resolved_at - start).total_seconds())})"
    ack = "not acknowledged"
    if incident.acknowledged_at is not None:
        waited = (incident.acknowledged_at - incident.opened_at).total_seconds()
        ack = (f"{stamp(incident.acknowledged_at)} by {incident.acknowledged_by} "
               f"({span(waited)} after opening)")
    due = incident.postmortem_due_at
    rows = [("Incident", f"{incident.id} ({incident.channel or 'no channel'})"),
            ("Level", f"{level.name} ({level.title})"),
            ("Impact window", window),
            ("Opened", f"{stamp(incident.opened_at)} by {incident.opened_by} "
                       f"(source: {incident.source or 'manual'})"),
            ("Acknowledged", ack),
            ("Services", ", ".join(services) or "not recorded"),
            ("Environments", ", ".join(envs) or "not recorded"),
            ("Post-mortem due", stamp(due) if due else "none required at this level")]
    out = [f"# Post-mortem: {incident.title}", "", "| | |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in rows]
    out += ["", "## Summary", "", incident.summary or "_What users saw, in a sentence or two._",
            "", "## Roles", ""]
    held = service.roles(session=session, incident_id=incident.id)
    out += [f"- {ROLE_TITLES[r]}: {p}" for r, p in held.items()] or ["_No roles assigned._"]
    out += ["", "## Timeline", "", "| Time (UTC) | Who | What | |", "|---|---|---|---|"]
    for e in service.timeline(session=session, incident_id=incident.id):
        text = _entry(e) + (" (public)" if e.public else "")
        out.append(f"| {e.at:%Y-%m-%d %H:%M:%S} | {_cell(e.actor)} | {e.kind} | "
                   f"{_cell(text)} |")
    out += ["", "## Linked runs and rollbacks", ""]
    if runs:
        out += ["| Run | Kind | Where | Version | Status | Reason |", "|---|---|---|---|---|---|"]
        out += [f"| {r.id} | {r.kind} | {r.service}/{r.environment} | "
                f"{_cell((r.from_version + ' → ' if r.from_version else '') + r.version)} | "
                f"{r.status} | {_cell(r.reason or r.error)} |" for r in runs]
        out.append("")
    if rollbacks:
        out += ["| Rollback | When | Where | Versions | Scope | Trigger | Reason |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| #{b.id} (run {b.run_id}) | {stamp(b.at)} | {b.service}/{b.environment} | "
                f"{_cell(b.from_version)} → {_cell(b.to_version)} | {b.scope} | {b.trigger} | "
                f"{_cell(b.reason)} |" for b in rollbacks]
        out.append("")
    if alerts:
        out += [f"Alerts: {', '.join(alerts)}", ""]
    if not (runs or rollbacks or alerts):
        out += ["_None linked (`rollgate incident link INCIDENT --run RUN`)._", ""]
    for title, placeholder in PLACEHOLDERS.items():
        out += [f"## {title}", "", placeholder, ""]
    return "\n".join(out).rstrip() + "\n"


def section(body: str, title: str) -> str | None:
    """A section's text, or None when it is missing or still the placeholder."""
    found = re.search(rf"^## {re.escape(title)}[ \t]*\n(.*?)(?=^## |^<!-- rollgate|\Z)", body,
                      re.M | re.S)
    text = found.group(1).strip() if found else ""
    return None if not text or text == PLACEHOLDERS.get(title) else text


def checklist_items(checklists: Checklists | None, incident: Incident) -> list[ChecklistItem]:
    """The spec's post-incident items for the incident's environment and service, or seed
    000 §7.3's four when the spec has none."""
    own = [i for i in (checklists.post_incident if checklists else [])
           if i.applies(incident.environment or "", incident.service)]
    return own or list(DEFAULT_CHECKLIST)


def checklist_state(*, session: Session, incident: Incident,
                    items: Sequence[ChecklistItem]) -> list[ItemResult]:
    """Each item with who confirmed it for this incident (automated ones run with
    `rollgate checklist --phase post-incident`)."""
    confirmed = checklist_store.confirmations(
        session=session, phase=PHASE, environment=incident.environment or "",
        service=incident.service, version=incident.id)
    out = []
    for item in items:
        if item.check:
            out.append(ItemResult(item.key, "check", item.check, "not run",
                                  "run it with `rollgate checklist --phase post-incident`"))
        elif (row := confirmed.get(item.key)) is not None:
            out.append(ItemResult(item.key, "manual", item.manual or "", "confirmed",
                                  f"by {row.actor} at {stamp(row.at)}"
                                  + (f": {row.comment}" if row.comment else ""),
                                  by=row.actor, at=row.at))
        else:
            out.append(ItemResult(item.key, "manual", item.manual or "", "pending",
                                  "not confirmed yet"))
    return out


def confirm(*, session: Session, incident: Incident, items: Sequence[ChecklistItem],
            confirm_ids: Sequence[str], actor: str, at: datetime,
            comment: str | None = None) -> None:
    """Record that ``actor`` confirms manual checklist items for this incident."""
    manual = {i.key: i for i in items if i.manual}
    unknown = [i for i in confirm_ids if i not in manual]
    if unknown:
        raise UsageError(f"{', '.join(unknown)}: not a manual item of the post-incident "
                         f"checklist; its manual items: {', '.join(manual) or 'none'}")
    for key in confirm_ids:
        checklist_store.confirm(session=session, phase=PHASE,
                                environment=incident.environment or "",
                                service=incident.service, version=incident.id, item=key,
                                actor=actor, comment=comment)
        service.add_event(session, incident, kind="checklist", actor=actor, at=at,
                          text=f"post-incident checklist: {manual[key].manual} — confirmed"
                               + (f": {comment}" if comment else ""),
                          detail={"phase": PHASE, "item": key})
        audit.record(session=session, actor=actor, action="checklist.confirmed",
                     target=f"{incident.service or '*'}/{incident.environment or '*'}",
                     detail={"phase": PHASE, "item": key, "text": manual[key].manual,
                             "version": incident.id, "comment": comment})


def render(*, session: Session, incident: Incident, at: datetime,
           items: Sequence[ChecklistItem] = DEFAULT_CHECKLIST) -> str:
    """The document as shown: the body, then the action items and the post-incident
    checklist as they are now."""
    row = get(session=session, incident=incident)
    head = f"<!-- post-mortem {row.status}" + (
        f", published {stamp(row.published_at)}" if row.published_at else "") + " -->"
    out = [head, row.body.rstrip(), "", LIVE_MARK, "", "## Action items", ""]
    rows = actions.listing(session=session, incident_id=incident.id)
    if rows:
        out += ["| # | Action | Owner | Due | State |", "|---|---|---|---|---|"]
        out += [f"| {a.id} | {_cell(a.title)} | {_cell(a.owner)} | {stamp(a.due_at)} | "
                f"{actions.state(a, at)} |" for a in rows]
    else:
        out.append(f"_None yet: `rollgate incident action add {incident.id} \"…\" --owner NAME "
                   "--due 7d`._")
    out += ["", "## Post-incident checklist", ""]
    for item in checklist_state(session=session, incident=incident, items=items):
        mark = "x" if item.status == "confirmed" else " "
        out.append(f"- [{mark}] {item.text} (`{item.id}`): {item.status}, {item.detail}")
    return "\n".join(out) + "\n"


def edit(*, session: Session, incident: Incident, body: str, actor: str,
         at: datetime) -> Postmortem:
    """Replace the body with a person's Markdown (what follows ``LIVE_MARK`` is dropped:
    those sections are rendered from the store)."""
    row = get(session=session, incident=incident)
    text = body.split(LIVE_MARK, 1)[0]
    text = re.sub(r"\A\s*<!-- post-mortem [^\n]*-->\s*\n", "", text).rstrip() + "\n"
    if not text.strip():
        raise UsageError("the edited post-mortem is empty; edit the file `rollgate incident "
                         f"postmortem {incident.id} --write FILE` wrote")
    if text == row.body:
        raise RefusedError(f"the post-mortem of {incident.id} already reads like that")
    row.body, row.updated_at = text, at
    service.add_event(session, incident, kind="postmortem", actor=actor, at=at,
                      text=f"post-mortem edited by {actor}"
                           + (" (published)" if row.status == PUBLISHED else ""))
    return row


def publish(*, session: Session, incident: Incident, actor: str, at: datetime) -> Postmortem:
    """Publish the post-mortem: its root cause must be written, the incident resolved."""
    row = get(session=session, incident=incident)
    if row.status == PUBLISHED:
        raise RefusedError(f"the post-mortem of {incident.id} was published at "
                           f"{stamp(row.published_at)}")
    if incident.status not in (lifecycle.RESOLVED, lifecycle.CLOSED):
        raise RefusedError(f"{incident.id} is {incident.status}: resolve it before publishing "
                           "its post-mortem")
    if section(row.body, "Root cause") is None:
        raise RefusedError(f"the post-mortem of {incident.id} has no root cause yet: `rollgate "
                           f"incident postmortem {incident.id} --write pm.md`, write the "
                           "'Root cause' section, then `--edit-from pm.md`")
    row.status, row.published_at, row.updated_at = PUBLISHED, at, at
    late = ""
    if row.due_at is not None and at > row.due_at:
        late = f" ({span((at - row.due_at).total_seconds())} after it was due)"
    service.add_event(session, incident, kind="postmortem", actor=actor, at=at,
                      text=f"post-mortem published by {actor}{late}")
    audit.record(session=session, actor=actor, action="incident.postmortem_published",
                 target=incident.id, detail={"due_at": row.due_at})
    return row


def close_refusal(*, session: Session, incident: Incident) -> str | None:
    """Why the incident may not be closed yet (its level needs a published post-mortem),
    or None."""
    if incident.postmortem_due_at is None:
        return None
    row = find(session=session, incident_id=incident.id)
    if row is not None and row.status == PUBLISHED:
        return None
    return (f"{incident.id} ({incident.level}) needs its post-mortem published before it is "
            f"closed (due {stamp(incident.postmortem_due_at)}): `rollgate incident postmortem "
            f"{incident.id} --publish` (or close with --force)")
