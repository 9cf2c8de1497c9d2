"""The public status page as data: each component's state, the incidents with their public
updates, scheduled maintenance, and the state of every component day by day.

``summarize`` is a pure function of a session, the spec and the moment it describes: three
queries (the incidents of the window, their public timeline entries, the maintenance
notices) whatever the number of days or incidents.

What is public of an incident: its title, its ``summary``, its status moves (with their note
only when the move itself was public) and the timeline entries marked public. Never the
opening entry's text, internal notes, level changes, pages, acknowledgements, roles, links,
alerts, who acted or which run: none of it leaves this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from rollgate.incidents import lifecycle
from rollgate.spec.models import Spec
from rollgate.store.tables import Incident, IncidentEvent, MaintenanceNotice

OPERATIONAL = "operational"
UNDER_MAINTENANCE = "under_maintenance"
DEGRADED = "degraded"
PARTIAL_OUTAGE = "partial_outage"
MAJOR_OUTAGE = "major_outage"
# Worst last: a component shows the worst state of everything that touches it.
RANK = {OPERATIONAL: 0, UNDER_MAINTENANCE: 1, DEGRADED: 2, PARTIAL_OUTAGE: 3, MAJOR_OUTAGE: 4}
LABELS = {OPERATIONAL: "Operational", UNDER_MAINTENANCE: "Under Maintenance",
          DEGRADED: "Degraded Performance", PARTIAL_OUTAGE: "Partial Outage",
          MAJOR_OUTAGE: "Major Outage"}
# The page's indicator and description, as Atlassian Statuspage words them.
INDICATORS = {OPERATIONAL: ("none", "All Systems Operational"),
              UNDER_MAINTENANCE: ("maintenance", "Service Under Maintenance"),
              DEGRADED: ("minor", "Partially Degraded Service"),
              PARTIAL_OUTAGE: ("major", "Partial System Outage"),
              MAJOR_OUTAGE: ("critical", "Major System Outage")}
IMPACTS = {OPERATIONAL: "none", UNDER_MAINTENANCE: "maintenance", DEGRADED: "minor",
           PARTIAL_OUTAGE: "major", MAJOR_OUTAGE: "critical"}
STATUS_LABELS = {lifecycle.INVESTIGATING: "Investigating", lifecycle.IDENTIFIED: "Identified",
                 lifecycle.MITIGATING: "Mitigating", lifecycle.RESOLVED: "Resolved",
                 "scheduled": "Scheduled", "in_progress": "In progress",
                 "completed": "Completed"}
# By a level's position when the spec names no state for it: the most severe level is a
# major outage, the next a partial outage, every other degraded performance.
DEFAULT_STATES = (MAJOR_OUTAGE, PARTIAL_OUTAGE)
MOVES = ("status", "reopened")
FORCED = " (forced: the post-mortem is not published)"  # what service.move appends


@dataclass(frozen=True)
class Update:
    """One public update of an incident: its status then and what was said."""

    id: int  # the timeline entry's id: stable, for feed entry ids
    status: str
    body: str
    at: datetime

    @property
    def label(self) -> str:
        """The status as the page words it (``Identified``)."""
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class PublicIncident:
    """An incident as the public sees it, at the summary's moment."""

    id: str
    name: str
    status: str  # investigating, identified, mitigating or resolved
    state: str  # what it does to its components: degraded, partial_outage, major_outage
    components: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: tuple[Update, ...]  # newest first

    @property
    def active(self) -> bool:
        """Not resolved yet."""
        return self.resolved_at is None

    @property
    def impact(self) -> str:
        """minor, major or critical (Statuspage's words)."""
        return IMPACTS[self.state]

    @property
    def label(self) -> str:
        """The status as the page words it."""
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class Maintenance:
    """A maintenance notice (never a cancelled one) as the public sees it."""

    id: int
    name: str
    message: str
    components: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    posted_at: datetime
    status: str  # scheduled, in_progress, completed

    @property
    def label(self) -> str:
        """The status as the page words it."""
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class Component:
    """A service as a component of the page, and its state now."""

    id: str
    name: str
    description: str | None
    state: str

    @property
    def label(self) -> str:
        """The state as the page words it (``Partial Outage``)."""
        return LABELS[self.state]


@dataclass(frozen=True)
class Day:
    """One UTC day of history: each component's worst state that day and what caused it,
    and the incidents opened that day."""

    date: date
    states: dict[str, str]
    causes: dict[str, tuple[str, ...]]
    incidents: tuple[PublicIncident, ...]

    def tooltip(self, component: str) -> str:
        """The day's line for a component: date, state and the incidents or maintenance."""
        state = self.states[component]
        causes = self.causes.get(component, ())
        return (f"{self.date.isoformat()}: {LABELS[state]}"
                + (" — " + "; ".join(causes) if causes else ""))


@dataclass(frozen=True)
class Summary:
    """Everything the status page, its JSON and its feed show."""

    title: str
    environment: str
    now: datetime
    history_days: int
    components: tuple[Component, ...]
    incidents: tuple[PublicIncident, ...]  # of the window, newest first
    maintenance: tuple[Maintenance, ...]  # of the window and to come, soonest first
    history: tuple[Day, ...]  # oldest first, today last

    @property
    def state(self) -> str:
        """The worst state of a component or of an active incident."""
        return _worst([c.state for c in self.components]
                      + [i.state for i in self.incidents if i.active])

    @property
    def indicator(self) -> str:
        """none, maintenance, minor, major or critical."""
        return INDICATORS[self.state][0]

    @property
    def description(self) -> str:
        """``All Systems Operational``, ``Partial System Outage``..."""
        return INDICATORS[self.state][1]

    @property
    def active(self) -> tuple[PublicIncident, ...]:
        """The unresolved incidents, newest first."""
        return tuple(i for i in self.incidents if i.active)

    @property
    def past(self) -> tuple[PublicIncident, ...]:
        """The resolved incidents of the window, newest first."""
        return tuple(i for i in self.incidents if not i.active)

    def names(self, ids: Iterable[str]) -> str:
        """Components by their shown names, comma-separated."""
        shown = {c.id: c.name for c in self.components}
        return ", ".join(shown.get(i, i) for i in ids)

    @property
    def scheduled(self) -> tuple[Maintenance, ...]:
        """Maintenance in progress or to come, soonest first."""
        return tuple(m for m in self.maintenance if m.status != "completed")

    @property
    def updated_at(self) -> datetime:
        """The last public change: an incident update or a notice posted (else now)."""
        moments = [i.updated_at for i in self.incidents] + [m.posted_at
                                                            for m in self.maintenance]
        return max(moments, default=self.now)


def _worst(states: Iterable[str]) -> str:
    return max(states, key=RANK.__getitem__, default=OPERATIONAL)


def incident_state(spec: Spec, level: str | None, severity: int) -> str:
    """What an open incident of this level does to its components (the spec's
    ``status_page.states``, else by the level's position)."""
    named = spec.status_page.states.get(level or "")
    if named is not None:
        return named
    return DEFAULT_STATES[severity] if 0 <= severity < len(DEFAULT_STATES) else DEGRADED


def window_start(now: datetime, days: int) -> datetime:
    """Midnight UTC of the first day of a ``days``-day history ending today."""
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first, time.min, UTC)


def summarize(session: Session, spec: Spec, now: datetime) -> Summary:
    """The status page of the spec's status environment as it stands at ``now``."""
    page = spec.status_page
    environment = spec.status_environment()
    names = tuple(spec.services)
    start = window_start(now, page.history_days)
    shown = _incident_filter(environment, start, now)
    rows = list(session.scalars(select(Incident).where(shown)
                                .order_by(Incident.opened_at.desc(), Incident.id.desc())))
    entries: dict[str, list[IncidentEvent]] = defaultdict(list)
    for entry in session.scalars(
            select(IncidentEvent).join(Incident, Incident.id == IncidentEvent.incident_id)
            .where(shown, IncidentEvent.at <= now,
                   or_(IncidentEvent.public.is_(True),
                       IncidentEvent.kind.in_(("opened", *MOVES))))
            .order_by(IncidentEvent.at, IncidentEvent.id)):
        entries[entry.incident_id].append(entry)
    incidents = tuple(_public_incident(spec, row, entries[row.id], names, now)
                      for row in rows)
    notices = session.scalars(
        select(MaintenanceNotice).where(
            MaintenanceNotice.environment == environment,
            MaintenanceNotice.cancelled_at.is_(None), MaintenanceNotice.ends_at > start,
            MaintenanceNotice.posted_at <= now)
        .order_by(MaintenanceNotice.starts_at, MaintenanceNotice.id))
    maintenance = tuple(_maintenance(row, names, now) for row in notices)
    components = tuple(
        Component(id=svc, name=(page.components[svc].name if svc in page.components
                                else None) or svc,
                  description=page.components[svc].description
                  if svc in page.components else None,
                  state=_worst([i.state for i in incidents if i.active and svc in i.components]
                               + [UNDER_MAINTENANCE for m in maintenance
                                  if m.status == "in_progress" and svc in m.components]))
        for svc in names)
    return Summary(title=page.title, environment=environment, now=now,
                   history_days=page.history_days, components=components,
                   incidents=incidents, maintenance=maintenance,
                   history=_history(names, incidents, maintenance, start, now))


def _incident_filter(environment: str, start: datetime, now: datetime) -> ColumnElement[bool]:
    """Incidents of the environment (or of none) whose impact reaches into the window."""
    return and_(or_(Incident.environment == environment, Incident.environment.is_(None)),
                Incident.opened_at <= now,
                or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start))


def _affected(service: str | None, names: Sequence[str]) -> tuple[str, ...]:
    """The components something of ``service`` touches (None: every one)."""
    if service is None:
        return tuple(names)
    return (service,) if service in names else ()


def _public_status(status: str) -> str:
    """A closed incident is simply resolved to the public."""
    return lifecycle.RESOLVED if status == lifecycle.CLOSED else status


def _move_note(entry: IncidentEvent, before: str, to: str) -> str:
    """The note of a public status move (kept in its detail; older entries: parsed from
    ``from → to: note``)."""
    if "note" in (entry.detail or {}):
        return str((entry.detail or {}).get("note") or "")
    text = entry.text.removesuffix(FORCED)
    head = f"{before} → {to}"
    if not text.startswith(head):
        return ""
    return text[len(head):].removeprefix(":").strip()


def _public_incident(spec: Spec, row: Incident, entries: Sequence[IncidentEvent],
                     names: Sequence[str], now: datetime) -> PublicIncident:
    """The incident at ``now`` from its public entries (oldest first)."""
    moves = [e for e in entries if e.kind in MOVES]
    first = (moves[0].detail or {}).get("from") if moves else None
    status = _public_status(str(first) if first else row.status)
    resolved_at = row.resolved_at if not moves and status == lifecycle.RESOLVED else None
    updates: list[Update] = []
    for entry in entries:
        if entry.kind == "opened":
            # Never the entry's own text: it is the responders' (level, channel, where).
            updates.append(Update(entry.id, status, row.summary or "", entry.at))
        elif entry.kind in MOVES:
            detail = entry.detail or {}
            before, raw = str(detail.get("from", "")), str(detail.get("to", status))
            to = _public_status(raw)
            note = _move_note(entry, before, raw) if entry.public else ""
            if to == status and not note:
                continue  # closing a resolved incident tells the public nothing new
            if to == lifecycle.RESOLVED and status != lifecycle.RESOLVED:
                resolved_at = entry.at
            elif to != lifecycle.RESOLVED:
                resolved_at = None
            status = to
            updates.append(Update(entry.id, status, note, entry.at))
        elif entry.public:
            updates.append(Update(entry.id, status, entry.text, entry.at))
    return PublicIncident(
        id=row.id, name=row.title, status=status,
        state=incident_state(spec, row.level, row.severity),
        components=_affected(row.service, names), created_at=row.opened_at,
        updated_at=max((u.at for u in updates), default=row.opened_at),
        resolved_at=resolved_at, updates=tuple(reversed(updates)))


def _maintenance(row: MaintenanceNotice, names: Sequence[str], now: datetime) -> Maintenance:
    status = ("scheduled" if now < row.starts_at
              else "in_progress" if now < row.ends_at else "completed")
    return Maintenance(id=row.id, name=row.title, message=row.message or "",
                       components=_affected(row.service, names), starts_at=row.starts_at,
                       ends_at=row.ends_at, posted_at=row.posted_at, status=status)


def _overlaps(begin: datetime, end: datetime, day_start: datetime, day_end: datetime) -> bool:
    """Whether [begin, end] touches the day (a moment-long span inside it does)."""
    return begin < day_end and (end > day_start or begin >= day_start)


def _history(names: Sequence[str], incidents: Sequence[PublicIncident],
             maintenance: Sequence[Maintenance], start: datetime, now: datetime
             ) -> tuple[Day, ...]:
    """Each day from ``start`` to today: every component's worst state and its causes."""
    spans: list[tuple[datetime, datetime, str, tuple[str, ...], str]] = [
        (i.created_at, i.resolved_at or now, i.state, i.components, i.name)
        for i in incidents]
    spans += [(m.starts_at, min(m.ends_at, now), UNDER_MAINTENANCE, m.components,
               f"Maintenance: {m.name}") for m in maintenance if m.starts_at <= now]
    days: list[Day] = []
    day_start = start
    while day_start <= now:
        day_end = day_start + timedelta(days=1)
        states = dict.fromkeys(names, OPERATIONAL)
        causes: dict[str, list[str]] = defaultdict(list)
        for begin, end, state, touched, name in spans:
            if not _overlaps(begin, end, day_start, day_end):
                continue
            for svc in touched:
                states[svc] = _worst((states[svc], state))
                causes[svc].append(name)
        opened = tuple(i for i in incidents if day_start <= i.created_at < day_end)
        days.append(Day(date=day_start.date(), states=states,
                        causes={k: tuple(v) for k, v in causes.items()}, incidents=opened))
        day_start = day_end
    return tuple(days)
