"""Running an incident: open it, move its status, note, assign roles, page and acknowledge,
change its level, link runs. Every change lands on the timeline with its actor and time, and
in the audit log, in the caller's transaction.

Functions take the session and the moment (``at``) they act at: callers pass the real time,
tests a controlled one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rollgate.errors import NotFoundError, RefusedError, UsageError
from rollgate.incidents import lifecycle
from rollgate.incidents.oncall import on_call
from rollgate.notify import events as notify_events
from rollgate.spec.incidents import ROLE_TITLES, ROLES, IncidentPolicy
from rollgate.spec.severity import Level, SeverityPolicy
from rollgate.store import audit
from rollgate.store.db import add_unique
from rollgate.store.tables import (
    Incident,
    IncidentEvent,
    IncidentLink,
    IncidentRole,
    Run,
)


def resolve_level(policy: SeverityPolicy, text: str) -> Level:
    """A level from ``SEV1``, ``sev1``, ``P0`` or a bare number (the level whose name ends in
    it: ``1`` is SEV1 under SEV0-3 and under SEV1-4 alike)."""
    wanted = text.strip()
    for level in policy.levels:
        if level.name.lower() == wanted.lower():
            return level
    if wanted.isdigit():
        for level in policy.levels:
            if re.sub(r"\D", "", level.name) == wanted:
                return level
    names = ", ".join(lvl.name for lvl in policy.levels)
    raise UsageError(f"unknown severity {text!r}; the levels are {names}")


def channel_name(session: Session, prefix: str, at: datetime) -> str:
    """``#inc-YYYYMMDD-hhmm`` (seed 000), with ``-2``, ``-3``… when that minute is taken."""
    base = f"{prefix}{at:%Y%m%d-%H%M}"
    taken = set(session.scalars(select(Incident.channel).where(
        Incident.channel.like(f"{base}%"))))
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def add_event(session: Session, incident: Incident, *, kind: str, text: str, actor: str,
              at: datetime, public: bool = False, detail: dict[str, Any] | None = None,
              key: str | None = None) -> IncidentEvent | None:
    """Put an entry on the timeline; with ``key``, only once (None when it was already)."""
    event = IncidentEvent(incident_id=incident.id, at=at, actor=actor, kind=kind, text=text,
                          public=public, detail=detail, key=key)
    if key is None:
        session.add(event)
        session.flush()
    else:
        if session.scalar(select(IncidentEvent.id).where(
                IncidentEvent.incident_id == incident.id, IncidentEvent.key == key)) is not None:
            return None
        if not add_unique(session, event):
            return None  # another writer put it there first
    # The people who hear of it are told through the outbox, in this same transaction.
    notify_events.timeline_entry(session, incident, event)
    return event


def _audit(session: Session, incident: Incident, actor: str, action: str,
           **detail: Any) -> None:
    audit.record(session=session, actor=actor, action=f"incident.{action}",
                 target=incident.id, detail=detail)


def get(*, session: Session, incident_id: str) -> Incident:
    """The incident with this id (or channel name), or NotFoundError."""
    row = session.get(Incident, incident_id)
    if row is None and incident_id.startswith("#"):
        row = session.scalar(select(Incident).where(Incident.channel == incident_id))
    if row is None:
        raise NotFoundError(f"no incident {incident_id!r}; `rollgate incident list` lists "
                            "them")
    return row


def listing(*, session: Session, status: Sequence[str] | None = None,
            service: str | None = None, environment: str | None = None,
            since: datetime | None = None, limit: int = 50, offset: int = 0,
            environments: Collection[str] | None = None) -> list[Incident]:
    """Incidents, newest first, filtered; ``environments``: only those of these environments
    and those of none (None: all)."""
    q = select(Incident)
    if environments is not None:
        q = q.where(or_(Incident.environment.in_(sorted(environments)),
                        Incident.environment.is_(None)))
    if status:
        q = q.where(Incident.status.in_(list(status)))
    if service:
        q = q.where(Incident.service == service)
    if environment:
        q = q.where(Incident.environment == environment)
    if since:
        q = q.where(Incident.opened_at >= since)
    return list(session.scalars(q.order_by(Incident.opened_at.desc(), Incident.id.desc())
                                .limit(limit).offset(offset)))


def timeline(*, session: Session, incident_id: str,
             public_only: bool = False) -> list[IncidentEvent]:
    """The timeline, oldest first."""
    q = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
    if public_only:
        q = q.where(IncidentEvent.public.is_(True))
    return list(session.scalars(q.order_by(IncidentEvent.at, IncidentEvent.id)))


def roles(*, session: Session, incident_id: str) -> dict[str, str]:
    """Role -> person, in the order of ``ROLES``."""
    held = {r.role: r.person for r in session.scalars(
        select(IncidentRole).where(IncidentRole.incident_id == incident_id))}
    return {role: held[role] for role in ROLES if role in held}


def links(*, session: Session, incident_id: str) -> list[IncidentLink]:
    """Runs, rollbacks and alerts tied to the incident, oldest first."""
    return list(session.scalars(select(IncidentLink).where(
        IncidentLink.incident_id == incident_id).order_by(IncidentLink.at)))


def level_of(policy: IncidentPolicy, incident: Incident) -> Level:
    """The incident's level in the policy in force (by name; by position if renamed)."""
    sev = policy.severity_policy()
    for level in sev.levels:
        if level.name == incident.level:
            return level
    return sev.levels[min(incident.severity, len(sev.levels) - 1)]


def recent_deploy(session: Session, policy: IncidentPolicy, incident: Incident,
                  at: datetime) -> Run | None:
    """The newest deploy of the incident's service (and environment) that went live within
    the policy's rollback window, if any."""
    if incident.service is None:
        return None
    window = timedelta(seconds=policy.severity_policy().rollback_window)
    q = select(Run).where(Run.kind == "deploy", Run.service == incident.service,
                          Run.status == "succeeded", Run.finished_at >= at - window)
    if incident.environment:
        q = q.where(Run.environment == incident.environment)
    return session.scalar(q.order_by(Run.finished_at.desc()).limit(1))


def recommendation(session: Session, policy: IncidentPolicy, incident: Incident,
                   at: datetime) -> str:
    """What the level's policy says to do first, made concrete (seed 002: SEV1 -> rollback
    when a deploy is recent)."""
    level = level_of(policy, incident)
    if incident.source == "rollback":
        return (f"{level.name}: already mitigated — rollgate rolled back run {incident.run_id}; "
                "confirm recovery with metrics and smoke tests, then resolve")
    deploy = recent_deploy(session, policy, incident, at)
    if level.action in ("rollback", "consider-rollback") and deploy is not None:
        verb = "roll back" if level.action == "rollback" else "consider rolling back"
        return (f"{level.name}: {verb} — {deploy.service} {deploy.version} went live in "
                f"{deploy.environment} at {deploy.finished_at:%Y-%m-%d %H:%M} UTC (run "
                f"{deploy.id}): `rollgate rollback {deploy.service} --env "
                f"{deploy.environment} --reason \"{incident.id}: {incident.title}\"`")
    if level.action in ("rollback", "consider-rollback"):
        return (f"{level.name}: mitigate first — no deploy of "
                f"{incident.service or 'the affected service'} in the last "
                f"{policy.severity_policy().rollback_window / 3600:g} h to roll back; "
                "rate-limit, turn a feature flag off or fail over")
    return {"investigate": f"{level.name}: investigate within "
                           f"{level.respond_within / 60:g} min",
            "schedule": f"{level.name}: schedule a fix (backlog)"}[level.action]


def match_playbook(policy: IncidentPolicy, text: str) -> str | None:
    """The first playbook whose keywords appear in ``text``."""
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    for name, book in policy.playbooks.items():
        if any(k.lower() in words for k in book.keywords):
            return name
    return None


def open_incident(*, session: Session, policy: IncidentPolicy, title: str, actor: str,
                  at: datetime, level: str | None = None,
                  signals: dict[str, Any] | None = None, service: str | None = None,
                  environment: str | None = None, summary: str | None = None,
                  source: str = "manual", run_id: str | None = None,
                  playbook: str | None = None, group_key: str | None = None,
                  started_at: datetime | None = None,
                  status: str = lifecycle.INVESTIGATING) -> Incident:
    """Open an incident: its level from ``level`` or from ``signals`` by the severity policy,
    a channel, the playbook that fits, the first page, and the opening entries."""
    title = title.strip()
    if not title:
        raise UsageError("an incident needs a title: what is broken, e.g. \"Checkout down\"")
    sev = policy.severity_policy()
    chosen = resolve_level(sev, level) if level else sev.classify(signals or {})
    if playbook is not None and playbook not in policy.playbooks:
        raise UsageError(f"unknown playbook {playbook!r}; playbooks: "
                         f"{', '.join(policy.playbooks) or 'none'}")
    incident = Incident(
        id=f"inc-{at:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}", title=title[:200],
        severity=sev.index(chosen.name), level=chosen.name, status=status, service=service,
        environment=environment, opened_by=actor, opened_at=at, run_id=run_id,
        channel=channel_name(session, policy.channel_prefix, at), summary=summary,
        source=source, playbook=playbook or match_playbook(policy, title),
        group_key=group_key, started_at=started_at or at, last_update_at=at,
        escalation_step=0)
    session.add(incident)
    session.flush()
    where = "/".join(x for x in (service, environment) if x) or "everywhere"
    add_event(session, incident, kind="opened", actor=actor, at=at,
              text=f"opened {chosen.name} ({chosen.title}) {incident.status}: {title} "
                   f"[{where}] in {incident.channel}",
              detail={"level": chosen.name, "source": source, "signals": signals or {}})
    add_event(session, incident, kind="recommendation", actor="rollgate", at=at,
              text=recommendation(session, policy, incident, at))
    if incident.playbook:
        book = policy.playbooks[incident.playbook]
        add_event(session, incident, kind="playbook", actor="rollgate", at=at,
                  text=f"playbook {incident.playbook} ({book.title}): "
                       + "; ".join(book.actions), detail={"playbook": incident.playbook})
    if run_id:
        link(session=session, incident=incident, kind="run", ref=run_id, actor=actor, at=at)
    page(session=session, policy=policy, incident=incident, step=0, at=at)
    _audit(session, incident, actor, "opened", title=title, level=chosen.name,
           source=source, service=service, environment=environment)
    return incident


def page(*, session: Session, policy: IncidentPolicy, incident: Incident, step: int,
         at: datetime, reason: str = "") -> IncidentEvent | None:
    """Page escalation step ``step`` (once per step) and start its response clock."""
    chain = policy.escalation
    step = min(step, len(chain) - 1)
    who = chain[step].person
    if who == "oncall":
        who = on_call(policy.oncall, at) if policy.oncall else "on-call"
    incident.escalation_step = step
    incident.paged_at = at
    kind = "page" if step == 0 else "escalation"
    text = f"paged {chain[step].title} ({who})" + (f": {reason}" if reason else "")
    return add_event(session, incident, kind=kind, actor="rollgate", at=at, text=text,
                     detail={"step": step, "title": chain[step].title, "person": who},
                     key=f"page:{step}")


def move(*, session: Session, policy: IncidentPolicy, incident: Incident, to: str,
         actor: str, at: datetime, note: str | None = None, public: bool = False,
         force: bool = False) -> IncidentEvent:
    """Change the status (checked by ``lifecycle``); resolving stamps the resolution time
    and drafts the post-mortem with its due date (the ``policy``'s); closing needs that
    post-mortem published (unless ``force``); reopening clears the resolution time."""
    from rollgate.incidents import postmortem  # it builds on this module

    lifecycle.check_move(incident.id, incident.status, to)
    refusal = (postmortem.close_refusal(session=session, incident=incident)
               if to == lifecycle.CLOSED else None)
    if refusal and not force:
        raise RefusedError(refusal)
    before = incident.status
    kind = "status"
    if to == lifecycle.RESOLVED:
        incident.resolved_at = at
    elif to == lifecycle.CLOSED:
        incident.closed_at = at
    elif before in (lifecycle.RESOLVED, lifecycle.CLOSED):
        kind = "reopened"
        incident.resolved_at = incident.closed_at = None
        incident.postmortem_due_at = None  # due again from the next resolution
    incident.status = to
    incident.last_update_at = at
    if public:
        incident.last_public_at = at
    text = f"{before} → {to}" + (f": {note}" if note else "")
    if refusal:
        text += " (forced: the post-mortem is not published)"
    event = add_event(session, incident, kind=kind, actor=actor, at=at, text=text,
                      public=public, detail={"from": before, "to": to, "note": note})
    assert event is not None
    if to == lifecycle.RESOLVED:
        postmortem.ensure_draft(session=session, policy=policy, incident=incident, at=at)
    _audit(session, incident, actor, kind, before=before, after=to)
    return event


def note(*, session: Session, incident: Incident, text: str, actor: str, at: datetime,
         public: bool = False) -> IncidentEvent:
    """An update on the timeline: internal, or public (status page, customers) too."""
    text = text.strip()
    if not text:
        raise UsageError("an update needs text")
    incident.last_update_at = at
    if public:
        incident.last_public_at = at
    event = add_event(session, incident, kind="update" if public else "note", actor=actor,
                      at=at, text=text, public=public)
    assert event is not None
    return event


def assign(*, session: Session, incident: Incident, role: str, person: str, actor: str,
           at: datetime) -> IncidentEvent:
    """Give a role (commander, ops, app, comms, scribe) to a person, or hand it over."""
    role = {"ic": "commander"}.get(role.lower(), role.lower())
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)} (ic = commander)")
    person = person.strip()
    if not person:
        raise UsageError("name the person who takes the role")
    held = session.get(IncidentRole, (incident.id, role))
    before = held.person if held else None
    if before == person:
        raise RefusedError(f"{person} is already {ROLE_TITLES[role]} of {incident.id}")
    if held is None:
        session.add(IncidentRole(incident_id=incident.id, role=role, person=person,
                                 assigned_at=at, assigned_by=actor))
    else:
        held.person, held.assigned_at, held.assigned_by = person, at, actor
    text = f"{ROLE_TITLES[role]}: {person}" + (f" (was {before})" if before else "")
    event = add_event(session, incident, kind="role", actor=actor, at=at, text=text,
                      detail={"role": role, "person": person, "before": before})
    assert event is not None
    _audit(session, incident, actor, "role", role=role, before=before, after=person)
    return event


def acknowledge(*, session: Session, incident: Incident, actor: str,
                at: datetime) -> IncidentEvent | None:
    """Acknowledge the page: escalation stops. None when it was acknowledged already."""
    if incident.acknowledged_at is not None:
        return None
    incident.acknowledged_at, incident.acknowledged_by = at, actor
    waited = (at - (incident.paged_at or incident.opened_at)).total_seconds()
    _audit(session, incident, actor, "acknowledged")
    return add_event(session, incident, kind="ack", actor=actor, at=at,
                     text=f"acknowledged by {actor} ({waited / 60:.1f} min after the page)")


def set_level(*, session: Session, policy: IncidentPolicy, incident: Incident, level: str,
              actor: str, at: datetime, reason: str | None = None) -> IncidentEvent:
    """Change the level; the new level's clocks apply from now on."""
    sev = policy.severity_policy()
    chosen = resolve_level(sev, level)
    if chosen.name == incident.level:
        raise RefusedError(f"incident {incident.id} is already {chosen.name}")
    before = incident.level
    incident.level, incident.severity = chosen.name, sev.index(chosen.name)
    incident.last_update_at = at
    text = f"level {before} → {chosen.name}" + (f": {reason}" if reason else "")
    event = add_event(session, incident, kind="severity", actor=actor, at=at, text=text,
                      detail={"from": before, "to": chosen.name})
    assert event is not None
    _audit(session, incident, actor, "severity", before=before, after=chosen.name)
    return event


def link(*, session: Session, incident: Incident, kind: str, ref: str, actor: str,
         at: datetime, text: str | None = None) -> IncidentEvent | None:
    """Tie a run, rollback or alert to the incident (once)."""
    if kind not in ("run", "rollback", "alert"):
        raise UsageError(f"unknown link kind {kind!r}: run, rollback or alert")
    if session.get(IncidentLink, (incident.id, kind, ref)) is not None:
        return None
    session.add(IncidentLink(incident_id=incident.id, kind=kind, ref=ref, at=at))
    return add_event(session, incident, kind="link", actor=actor, at=at,
                     text=text or f"linked {kind} {ref}", detail={"kind": kind, "ref": ref},
                     key=f"link:{kind}:{ref}")
