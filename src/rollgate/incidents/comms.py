"""Incident messages: the initial report, updates and the resolution, rendered from the
incident's record with Jinja2 templates (the spec's ``incidents.templates``, or the
built-in ones below).

The built-in set merges the seeds' formats into one that reads in Slack and in e-mail: a
``Subject:`` line (seed 003's ``[P0] …`` and ``[RESOLVED] …``), seed 001's ``@channel SEV-1
INCIDENT: …`` headline and ``UPDATE [TIME]:`` block, seed 002's ``🚨 INCIDENT REPORT``
fields (Severity, Status, Started, Impact, Current Status, Actions Taken, Next Steps, ETA,
Updated), and seed 003's INCIDENT DETAILS / NEXT UPDATE / Total Downtime / Root Cause /
POST-INCIDENT. Rendering records nothing; sending them is the notification channels' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session

from rollgate.errors import SpecError, UsageError
from rollgate.incidents import actions, lifecycle, postmortem, service
from rollgate.spec.incidents import IncidentPolicy
from rollgate.store.tables import Incident, IncidentEvent, Rollback, Run

Kind = Literal["initial", "update", "resolution"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# Timeline entries that are things people (or rollgate) did about the incident.
ACTION_KINDS = frozenset({"status", "reopened", "severity", "role", "ack", "page", "escalation",
                          "link", "note", "update", "action"})
MAX_ACTIONS = 10

INITIAL = """\
Subject: [{{ level }}] Incident: {{ title }}{% if where %} ({{ where }}){% endif %}

@channel {{ level }} INCIDENT: {{ title }}
🚨 INCIDENT REPORT

Severity: {{ level }} - {{ level_title }}
Status: {{ status }}
Started: {{ started }}
Services Affected: {{ where or "not known yet" }}
Impact: {{ impact }}
Lead: {{ commander }}
Channel: {{ channel }}

Current Status:
{{ current }}

Actions Taken:
{% for a in actions %}
- {{ a.time }} {{ a.text }}
{% else %}
- incident opened, on-call paged
{% endfor %}

Next Steps:
{% for step in next_steps %}
- {{ step }}
{% else %}
- investigate
{% endfor %}

ETA: {{ eta }}
NEXT UPDATE: {{ next_update }}
Updated: {{ updated }}
"""

UPDATE = """\
Subject: [{{ level }}] UPDATE {{ updated }}: {{ title }}

UPDATE {{ updated }}: {{ level }} INCIDENT: {{ title }}
- Current status: {{ status }}
- Findings: {{ current }}
- Next steps: {{ next_steps | join("; ") if next_steps else "continue investigating" }}
- ETA: {{ eta }}

Severity: {{ level }} - {{ level_title }}
Started: {{ started }}
Services Affected: {{ where or "not known yet" }}
Impact: {{ impact }}
Lead: {{ commander }}

Actions Taken:
{% for a in actions %}
- {{ a.time }} {{ a.text }}
{% else %}
- none yet
{% endfor %}

NEXT UPDATE: {{ next_update }}
Updated: {{ updated }}
"""

RESOLUTION = """\
Subject: [RESOLVED] [{{ level }}] {{ title }}

INCIDENT RESOLVED: {{ title }}
- Severity: {{ level }} - {{ level_title }}
- Services Affected: {{ where or "not recorded" }}
- Impact: {{ impact }}
- Start Time: {{ started }}
- Resolution Time: {{ resolved }}
- Total Downtime: {{ downtime }}
- Root Cause: {{ root_cause }}

RESOLUTION ACTIONS:
{% for a in actions %}
- {{ a.time }} {{ a.text }}
{% else %}
- none recorded
{% endfor %}
{% if links %}

LINKED CHANGES:
{% for link in links %}
- {{ link.text }}
{% endfor %}
{% endif %}

POST-INCIDENT:
- Post-mortem: {{ postmortem_due }}
{% for item in action_items %}
- Action: {{ item.title }} ({{ item.owner }}, due {{ item.due }}, {{ item.state }})
{% endfor %}

STATUS: {{ current }}
Updated: {{ updated }}
"""

BUILT_IN: dict[Kind, str] = {"initial": INITIAL, "update": UPDATE, "resolution": RESOLUTION}


@dataclass(frozen=True)
class Message:
    """A rendered message: the subject (empty without a ``Subject:`` line) and the body."""

    kind: Kind
    subject: str
    body: str

    @property
    def text(self) -> str:
        """The message as one text (subject line, blank line, body)."""
        return f"Subject: {self.subject}\n\n{self.body}" if self.subject else self.body


def _environment() -> SandboxedEnvironment:
    # Sandboxed: templates come from the spec, which is not trusted like code; strict: a
    # misspelt field is an error, never a silently empty line in a customer message.
    return SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=True,
                                autoescape=False)


def check_kind(kind: str) -> Kind:
    """The message kind, or UsageError naming the kinds."""
    if kind not in KINDS:
        raise UsageError(f"unknown message kind {kind!r}; kinds: {', '.join(KINDS)}")
    return kind


def default_kind(incident: Incident) -> Kind:
    """The message the incident needs next: the resolution once resolved, the initial
    report until a public update went out, else an update."""
    if incident.status in (lifecycle.RESOLVED, lifecycle.CLOSED):
        return "resolution"
    return "initial" if incident.last_public_at is None else "update"


def _is_comms(event: IncidentEvent) -> bool:
    return bool(event.detail and event.detail.get("comms"))


def _said(event: IncidentEvent) -> str | None:
    """What a note or update said: its text, or the message of a recorded message."""
    if event.kind not in ("note", "update"):
        return None
    if event.detail and event.detail.get("comms"):
        return str(event.detail.get("message") or "") or None
    return event.text


def _link_text(session: Session, kind: str, ref: str) -> str:
    if kind == "rollback" and ref.isdigit() and (rb := session.get(Rollback, int(ref))):
        return (f"rollback #{rb.id} of {rb.service}/{rb.environment}: {rb.from_version} → "
                f"{rb.to_version} ({rb.scope}, {rb.trigger})")
    run = session.get(Run, ref) if kind in ("run", "rollback") else None
    if run is None:
        return f"{kind} {ref}"
    moved = f"{run.from_version} → {run.version}" if run.from_version else run.version
    return f"{run.kind} {run.service}/{run.environment} {moved}: {run.status} (run {run.id})"


def context(*, session: Session, policy: IncidentPolicy, incident: Incident, kind: Kind,
            at: datetime, message: str | None = None, eta: str | None = None) -> dict[str, Any]:
    """Every name a template can use (the spec's ``TEMPLATE_NAMES``), from the incident's
    record."""
    level = service.level_of(policy, incident)
    resolved = incident.status in (lifecycle.RESOLVED, lifecycle.CLOSED)
    events = service.timeline(session=session, incident_id=incident.id)
    done = [e for e in events if e.kind in ACTION_KINDS and not _is_comms(e)]
    said = [text for e in events if (text := _said(e))]
    held = service.roles(session=session, incident_id=incident.id)
    start = incident.started_at or incident.opened_at
    end = incident.resolved_at if resolved and incident.resolved_at else at
    lasted = postmortem.span((end - start).total_seconds())
    downtime = lasted if resolved else f"ongoing ({lasted} so far)"
    if resolved:
        current = message or "Resolved: all services operational, monitoring continues"
    else:
        current = message or (said[-1] if said else {
            lifecycle.INVESTIGATING: "Investigation in progress",
            lifecycle.IDENTIFIED: "Cause identified, working on a fix",
        }.get(incident.status, "Mitigation in progress"))
    next_steps: list[str] = []
    if not resolved:
        advice = [e.text for e in events if e.kind == "recommendation"]
        next_steps += advice[-1:]
        if incident.playbook and incident.playbook in policy.playbooks:
            next_steps += policy.playbooks[incident.playbook].actions
    next_update = "none (resolved)"
    if not resolved and level.update_every:
        due = at + timedelta(seconds=level.update_every)
        next_update = f"in {postmortem.span(level.update_every)} (by {due:%H:%M} UTC)"
    elif not resolved:
        next_update = "when there is news"
    row = postmortem.find(session=session, incident_id=incident.id)
    cause = postmortem.section(row.body, "Root cause") if row else None
    due_pm = incident.postmortem_due_at
    return {
        "kind": kind, "id": incident.id, "title": incident.title,
        "channel": incident.channel or "", "status": incident.status.capitalize(),
        "level": level.name, "level_title": level.title,
        "service": incident.service or "", "environment": incident.environment or "",
        "where": "/".join(x for x in (incident.service, incident.environment) if x),
        "impact": incident.summary or "under assessment",
        "started": postmortem.stamp(start), "opened": postmortem.stamp(incident.opened_at),
        "updated": postmortem.stamp(at),
        "resolved": postmortem.stamp(incident.resolved_at) if resolved else "not yet",
        "downtime": downtime, "roles": held,
        "commander": held.get("commander") or incident.acknowledged_by or "unassigned",
        "current": current,
        "actions": [{"time": f"{e.at:%H:%M}", "at": postmortem.stamp(e.at), "actor": e.actor,
                     "kind": e.kind, "text": e.text} for e in done[-MAX_ACTIONS:]],
        "next_steps": next_steps, "eta": eta or ("-" if resolved else "not known yet"),
        "next_update": next_update,
        "root_cause": " ".join(cause.split()) if cause else "under investigation",
        "links": [{"kind": lk.kind, "ref": lk.ref, "text": _link_text(session, lk.kind, lk.ref)}
                  for lk in service.links(session=session, incident_id=incident.id)],
        "postmortem_due": (f"due {postmortem.stamp(due_pm)}" if due_pm
                           else "none required" if resolved else "after resolution"),
        "action_items": [{"id": a.id, "title": a.title, "owner": a.owner,
                          "due": postmortem.stamp(a.due_at), "state": actions.state(a, at)}
                         for a in actions.listing(session=session, incident_id=incident.id)],
    }


def render(*, session: Session, policy: IncidentPolicy, incident: Incident, kind: Kind,
           at: datetime, message: str | None = None, eta: str | None = None) -> Message:
    """Render a message (the spec's template for ``kind``, else the built-in one); records
    nothing."""
    source = getattr(policy.templates, kind) or BUILT_IN[kind]
    values = context(session=session, policy=policy, incident=incident, kind=kind, at=at,
                     message=message, eta=eta)
    try:
        text = _environment().from_string(source).render(values)
    except TemplateError as exc:
        raise SpecError(f"incidents.templates.{kind}: {exc.message or exc}; fix the template "
                        "in the spec (`rollgate validate` checks its syntax and names)") from None
    text = text.strip("\n") + "\n"
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        return Message(kind, first.split(":", 1)[1].strip(), rest.lstrip("\n"))
    return Message(kind, "", text)


def record(*, session: Session, policy: IncidentPolicy, incident: Incident, kind: Kind,
           actor: str, at: datetime, message: str | None = None,
           eta: str | None = None) -> tuple[Message, IncidentEvent]:
    """Render a message and put it on the timeline as a public update (which resets the
    status-page and customer-update clocks)."""
    rendered = render(session=session, policy=policy, incident=incident, kind=kind, at=at,
                      message=message, eta=eta)
    event = service.note(session=session, incident=incident, text=rendered.text, actor=actor,
                         at=at, public=True)
    # Marked, so that the next message does not quote this one as an action taken.
    event.detail = {"comms": kind, "subject": rendered.subject, "message": message,
                    "eta": eta}
    return rendered, event
