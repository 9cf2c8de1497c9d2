"""Durable timers of incidents: internal and customer update reminders, the status page
deadline, escalation of an unacknowledged page, overdue post-mortems and action items.

Timers are state in the store, not sleeping threads. ``tick`` computes from an incident's
clocks (``last_update_at``, ``last_public_at``, ``paged_at``, ``postmortem_due_at``…) what is
due at a moment and writes each due reminder or escalation to the timeline once, under a key
that names its due moment (``service.add_event(key=...)``). A restart, two servers or a
retried pass therefore never remind twice, and whatever came due while rollgate was down
fires on the next pass:

- a repeating reminder fires for its latest due moment only, saying how overdue it is
  ("overdue by 45 min"), not once per period missed;
- escalation catches up step by step: each step is paged at its own due moment, so the next
  step's response clock runs from there.

Reminders and escalations become notifications in issue 8 (an outbox delivers them). Until
then they are timeline entries of kind ``reminder`` (``actor`` rollgate) or ``escalation``
(written by ``service.page``), whose ``detail`` carries ``{"timer": ..., "due": ..., "to":
...}`` for issue 8 to route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, and_, cast, exists, literal, or_, select
from sqlalchemy.orm import Session

from rollgate.incidents import lifecycle, service
from rollgate.incidents.oncall import on_call
from rollgate.moments import as_utc
from rollgate.spec.incidents import ROLE_TITLES, IncidentPolicy
from rollgate.spec.severity import Level
from rollgate.store.tables import ActionItem, Incident, IncidentEvent, Postmortem

# A level that asks for an immediate response (respond_within 0, seeds 002 and 004) still
# gives the person paged this long to acknowledge before the next step is paged: paging the
# whole chain at once would wake everyone for every incident.
UNACKNOWLEDGED_FLOOR = 5 * 60.0
# An unpublished post-mortem past its due date is brought up again once a day.
POSTMORTEM_REPEAT = 24 * 3600.0


@dataclass(frozen=True)
class Due:
    """One timer of an incident: what it is, when it fires, whom it is for, and the message
    it writes when it fires at the moment it was planned for."""

    incident_id: str
    timer: str  # update, statuspage, customer, escalation, unacknowledged, postmortem, action
    due: datetime
    key: str
    what: str
    to: str
    message: str


def tick(*, session: Session, policy: IncidentPolicy, at: datetime) -> list[IncidentEvent]:
    """Write every reminder and escalation due at ``at`` that is not on a timeline yet, and
    return them (oldest incident first)."""
    at = as_utc(at)
    written: list[IncidentEvent] = []
    for incident in _candidates(session, at):
        level = service.level_of(policy, incident)
        written += _escalate(session, policy, incident, level, at)
        for due in _plan(session, policy, incident, level, at, escalation=False):
            if due.due <= at:
                event = _remind(session, incident, level, due, at)
                if event is not None:
                    written.append(event)
    written += _overdue_actions(session, at)
    return written


def next_due(session: Session, policy: IncidentPolicy, incident: Incident,
             at: datetime) -> list[Due]:
    """The incident's timers in the order they fire: those due and not written yet (the next
    pass writes them), then the coming ones."""
    at = as_utc(at)
    plan = _plan(session, policy, incident, service.level_of(policy, incident), at,
                 escalation=True)
    written = set(session.scalars(select(IncidentEvent.key).where(
        IncidentEvent.incident_id == incident.id,
        IncidentEvent.key.in_([d.key for d in plan]))))
    return sorted((d for d in plan if d.due > at or d.key not in written),
                  key=lambda d: (d.due, d.timer))


def _candidates(session: Session, at: datetime) -> list[Incident]:
    """Open incidents, and any whose post-mortem is overdue and unpublished."""
    unpublished = or_(Postmortem.status.is_(None), Postmortem.status != "published")
    return list(session.scalars(
        select(Incident).outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
        .where(or_(Incident.status.in_(lifecycle.OPEN),
                   and_(Incident.postmortem_due_at <= at, unpublished)))
        .order_by(Incident.opened_at, Incident.id)))


def _plan(session: Session, policy: IncidentPolicy, incident: Incident, level: Level,
          at: datetime, *, escalation: bool) -> list[Due]:
    """Each running timer's latest due moment at or before ``at`` and its next one."""
    plan: list[Due] = []
    if incident.status in lifecycle.OPEN:
        paged = _person(policy, incident.escalation_step, incident.paged_at or
                        incident.opened_at)
        held = service.roles(session=session, incident_id=incident.id)
        plan += _updates(incident, level, at, _ping(held, incident, paged, ("commander",)))
        comms = _ping(held, incident, paged, ("comms", "commander"))
        plan += _status_page(incident, level, at, comms)
        plan += _customer(incident, level, at, comms)
        if escalation:
            plan += _escalation(policy, incident, level, at)
    if incident.postmortem_due_at is not None:
        plan += _postmortem(session, policy, incident, at)
    return plan


def _updates(incident: Incident, level: Level, at: datetime,
             who: tuple[str, str]) -> list[Due]:
    """Internal update every ``update_every`` after the last one (a note resets it)."""
    if level.update_every is None:
        return []
    last = incident.last_update_at or incident.opened_at
    first = last + timedelta(seconds=level.update_every)
    rule = f"{level.name}: every {_span(level.update_every)}"
    out = []
    for due in _repeat(first, level.update_every, at):
        late = max(at, due) - first
        head = (f"internal update overdue by {_span(late.total_seconds())}"
                if late >= timedelta(minutes=1) else "internal update due")
        out.append(Due(
            incident.id, "update", due, f"remind:update:{_iso(due)}",
            f"internal update ({rule})", who[0],
            f"{head}: no update for {_span((max(at, due) - last).total_seconds())} ({rule}); "
            f"ping {who[1]}"))
    return out


def _status_page(incident: Incident, level: Level, at: datetime,
                 who: tuple[str, str]) -> list[Due]:
    """One reminder when no public update came within ``status_page_within`` of opening."""
    if level.status_page_within is None or incident.last_public_at is not None:
        return []
    due = incident.opened_at + timedelta(seconds=level.status_page_within)
    rule = f"{level.name}: within {_span(level.status_page_within)}"
    since = _span((max(at, due) - incident.opened_at).total_seconds())
    return [Due(incident.id, "statuspage", due, "remind:statuspage",
                f"status page update ({rule})", who[0],
                f"status page update due ({rule}): no public update {since} after opening; "
                f"ping {who[1]}")]


def _customer(incident: Incident, level: Level, at: datetime,
              who: tuple[str, str]) -> list[Due]:
    """A customer-facing update every ``customer_update_every`` after the last public one."""
    if level.customer_update_every is None:
        return []
    last = incident.last_public_at or incident.opened_at
    rule = f"{level.name}: every {_span(level.customer_update_every)}"
    out = []
    for due in _repeat(last + timedelta(seconds=level.customer_update_every),
                       level.customer_update_every, at):
        ago = _span((max(at, due) - last).total_seconds())
        said = (f"last public update {ago} ago" if incident.last_public_at
                else f"no public update since opening {ago} ago")
        out.append(Due(incident.id, "customer", due, f"remind:customer:{_iso(due)}",
                       f"customer update ({rule})", who[0],
                       f"customer update due ({rule}): {said}; ping {who[1]}"))
    return out


def _escalation(policy: IncidentPolicy, incident: Incident, level: Level,
                at: datetime) -> list[Due]:
    """The next escalation step while the page is unacknowledged; past the chain's end, a
    reminder to its last step every response time."""
    if incident.acknowledged_at is not None:
        return []
    wait = _respond(level)
    paged_at = incident.paged_at or incident.opened_at
    last = len(policy.escalation) - 1
    if incident.escalation_step < last:
        due = paged_at + wait
        step = policy.escalation[incident.escalation_step + 1]
        person = _person(policy, incident.escalation_step + 1, due)
        return [Due(incident.id, "escalation", due, f"page:{incident.escalation_step + 1}",
                    f"escalate to {step.title} ({person}) unless acknowledged", person,
                    f"paged {step.title} ({person}): not acknowledged within "
                    f"{_span(wait.total_seconds())}")]
    return _unacknowledged(policy, incident, paged_at, wait, at)


def _unacknowledged(policy: IncidentPolicy, incident: Incident, paged_at: datetime,
                    wait: timedelta, at: datetime) -> list[Due]:
    step = policy.escalation[-1]
    person = _person(policy, len(policy.escalation) - 1, paged_at)
    out = []
    for due in _repeat(paged_at + wait, wait.total_seconds(), at):
        since = _span((max(at, due) - paged_at).total_seconds())
        out.append(Due(incident.id, "unacknowledged", due, f"remind:unacked:{_iso(due)}",
                       f"remind {step.title} ({person}) of the unacknowledged page", person,
                       f"page still not acknowledged {since} after paging {step.title} "
                       f"({person}), the last step of the escalation chain; ping {person} "
                       "again"))
    return out


def _postmortem(session: Session, policy: IncidentPolicy, incident: Incident,
                at: datetime) -> list[Due]:
    """Daily, from its due date until the post-mortem is published."""
    assert incident.postmortem_due_at is not None
    doc = session.get(Postmortem, incident.id)
    if doc is not None and doc.status == "published":
        return []
    held = service.roles(session=session, incident_id=incident.id)
    who = _ping(held, incident, _person(policy, incident.escalation_step,
                                        incident.paged_at or incident.opened_at),
                ("commander",))
    first = incident.postmortem_due_at
    out = []
    for due in _repeat(first, POSTMORTEM_REPEAT, at):
        late = max(at, due) - first
        head = (f"post-mortem overdue by {_span(late.total_seconds())} (due "
                if late >= timedelta(minutes=1) else "post-mortem due now (")
        state = "not written" if doc is None else f"still a {doc.status}"
        out.append(Due(incident.id, "postmortem", due, f"remind:postmortem:{_iso(due)}",
                       "post-mortem due", who[0],
                       f"{head}{first:%Y-%m-%d %H:%M} UTC), {state}; ping {who[1]}"))
    return out


def _escalate(session: Session, policy: IncidentPolicy, incident: Incident, level: Level,
              at: datetime) -> list[IncidentEvent]:
    """Page each step whose predecessor went unacknowledged for the response time, each at
    its due moment; past the end of the chain, remind its last step."""
    if incident.status not in lifecycle.OPEN or incident.acknowledged_at is not None:
        return []
    wait = _respond(level)
    written: list[IncidentEvent] = []
    while incident.escalation_step < len(policy.escalation) - 1:
        due = (incident.paged_at or incident.opened_at) + wait
        if due > at:
            return written
        event = service.page(session=session, policy=policy, incident=incident,
                             step=incident.escalation_step + 1, at=due,
                             reason=f"not acknowledged within {_span(wait.total_seconds())}")
        if event is not None:  # None: another pass paged this step first
            detail = dict(event.detail or {})
            event.detail = {**detail, "timer": "escalation", "due": _iso(due),
                            "to": detail.get("person")}
            written.append(event)
    paged_at = incident.paged_at or incident.opened_at
    for timer in _unacknowledged(policy, incident, paged_at, wait, at):
        if timer.due <= at:
            event = _remind(session, incident, level, timer, at)
            if event is not None:
                written.append(event)
    return written


def _remind(session: Session, incident: Incident, level: Level, due: Due,
            at: datetime) -> IncidentEvent | None:
    return service.add_event(session, incident, kind="reminder", actor="rollgate", at=at,
                             text=due.message, key=due.key,
                             detail={"timer": due.timer, "due": _iso(due.due), "to": due.to,
                                     "level": level.name})


def _overdue_actions(session: Session, at: datetime) -> list[IncidentEvent]:
    """One reminder per open action item past its due date (to its owner)."""
    reminded = exists().where(
        IncidentEvent.incident_id == ActionItem.incident_id,
        IncidentEvent.key == literal("remind:action:", String) + cast(ActionItem.id, String))
    items = session.scalars(select(ActionItem).where(
        ActionItem.done_at.is_(None), ActionItem.due_at <= at, ~reminded)
        .order_by(ActionItem.due_at, ActionItem.id))
    written = []
    for item in items:
        assert item.due_at is not None
        incident = session.get(Incident, item.incident_id)
        assert incident is not None
        late = _span((at - item.due_at).total_seconds())
        event = service.add_event(
            session, incident, kind="reminder", actor="rollgate", at=at,
            key=f"remind:action:{item.id}",
            text=f"action item #{item.id} overdue by {late}: {item.title} (owner "
                 f"{item.owner}, due {item.due_at:%Y-%m-%d %H:%M} UTC)",
            detail={"timer": "action", "due": _iso(item.due_at), "to": item.owner,
                    "action_item": item.id})
        if event is not None:
            written.append(event)
    return written


def _repeat(first: datetime, every: float, at: datetime) -> list[datetime]:
    """The latest of ``first``, ``first + every``, … at or before ``at`` (if any), and the
    one after it."""
    step = timedelta(seconds=every)
    if at < first:
        return [first]
    latest = first + ((at - first) // step) * step
    return [latest, latest + step]


def _respond(level: Level) -> timedelta:
    return timedelta(seconds=level.respond_within or UNACKNOWLEDGED_FLOOR)


def _person(policy: IncidentPolicy, step: int, at: datetime) -> str:
    """Who escalation step ``step`` pages at ``at`` (as ``service.page`` resolves it)."""
    who = policy.escalation[min(step, len(policy.escalation) - 1)].person
    if who == "oncall":
        return on_call(policy.oncall, at) if policy.oncall else "on-call"
    return who


def _ping(held: dict[str, str], incident: Incident, paged: str,
          prefer: tuple[str, ...]) -> tuple[str, str]:
    """Whom a reminder is for: the first role held in ``prefer``, else whoever acknowledged
    the page, else the person paged last; with how the text names them."""
    for role in prefer:
        if role in held:
            return held[role], f"{held[role]} ({ROLE_TITLES[role]})"
    if incident.acknowledged_by:
        return incident.acknowledged_by, f"{incident.acknowledged_by} (acknowledged the page)"
    return paged, f"{paged} (paged)"


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
