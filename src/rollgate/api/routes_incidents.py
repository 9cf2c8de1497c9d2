"""Incidents over the API: list, show, open and run them (status, notes, roles, ack, level,
links), and the Alertmanager webhook that opens and resolves them.

Reading needs viewer and changing needs deployer on the incident's environment; an incident
of no environment needs the role on at least one. The webhook authenticates on its own
(``incidents.alerts``: a bearer token or an HMAC signature of the body), or takes a rollgate
API token of a deployer; open mode does not open it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from rollgate.api.auth import PrincipalDep, bearer_scheme, client_address
from rollgate.api.common import (
    ActorDep,
    ErrorOut,
    Limit,
    Offset,
    Page,
    ProjectDep,
    RuntimeDep,
    errors,
    page,
)
from rollgate.auth import credentials
from rollgate.auth import service as accounts
from rollgate.auth.principal import Principal
from rollgate.engine.runtime import Runtime
from rollgate.errors import NotFoundError, Unauthenticated, UsageError
from rollgate.incidents import alerts, service, views
from rollgate.redact import fill_refs
from rollgate.spec.incidents import AlertIntake
from rollgate.spec.severity import Conditions
from rollgate.store.runs import now
from rollgate.store.tables import Incident, Run

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["incidents"])

MAX_ALERT_BODY = 1024 * 1024
SIGNATURE_HEADER = "X-Rollgate-Signature"
NO_NUL = r"^[^\x00]*$"  # PostgreSQL keeps no NUL character in text

IncidentStatus = Literal["investigating", "identified", "mitigating", "resolved", "closed"]
IncidentId = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL,
                                 description="the incident's id (or its #channel)")]


# -- shapes ------------------------------------------------------------------------------


class IncidentOut(BaseModel):
    """An incident."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    level: str | None = Field(description="the severity level's name, e.g. SEV1")
    severity: int = Field(description="the level's position: 0 is the most severe")
    status: IncidentStatus
    service: str | None
    environment: str | None
    channel: str | None = Field(description="the incident channel, e.g. #inc-20250104-1430")
    summary: str | None = Field(description="user-facing impact")
    source: str | None = Field(description="manual, rollback or alert")
    playbook: str | None
    opened_by: str
    opened_at: datetime
    started_at: datetime | None = Field(description="when the impact began (first alert)")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    closed_at: datetime | None


class EventOut(BaseModel):
    """One entry of the timeline."""

    model_config = ConfigDict(extra="allow")

    at: datetime
    actor: str
    kind: str = Field(description="opened, status, note, update, role, ack, alert, page…")
    text: str
    public: bool = Field(description="shown to customers (status page) too")
    detail: dict[str, Any] | None


class LinkOut(BaseModel):
    """A run, rollback or alert tied to the incident."""

    kind: str
    ref: str
    at: datetime


class IncidentDetail(IncidentOut):
    """An incident with its roles, links and timeline (oldest first)."""

    roles: dict[str, str] = Field(description="role -> person (commander, ops, app, comms, "
                                  "scribe)")
    links: list[LinkOut]
    timeline: list[EventOut]


class OpenIn(BaseModel):
    """An incident to open: its level given, or chosen from signals by the severity policy."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, pattern=NO_NUL,
                       examples=["Checkout returns 502"])
    level: str | None = Field(None, min_length=1, max_length=16, pattern=NO_NUL,
                              description="a level (SEV1, P0, or its number); wins over "
                              "`signals`", examples=["SEV1"])
    signals: Conditions | None = Field(None, description="what is observed; the most severe "
                                       "matching rule picks the level (none: the least "
                                       "severe)")
    service: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL,
                                examples=["web"])
    environment: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL,
                                    examples=["production"])
    summary: str | None = Field(None, max_length=5000, pattern=NO_NUL,
                                description="the impact, in users' words")
    playbook: str | None = Field(None, min_length=1, max_length=64, pattern=NO_NUL,
                                 description="a playbook of the spec (default: the one whose "
                                 "keywords the title has)")


class StatusIn(BaseModel):
    """A status change: investigating, identified, mitigating, resolved or closed."""

    model_config = ConfigDict(extra="forbid")

    to: IncidentStatus
    note: str | None = Field(None, max_length=5000, pattern=NO_NUL,
                             examples=["rolled back to v1.5.2; error rate back to 0.1%"])
    public: bool = Field(False, description="the note is a public update too")
    force: bool = Field(False, description="close although the post-mortem its level needs "
                        "is not published (said so on the timeline)")


class NoteIn(BaseModel):
    """An update: internal, or public (status page, customers)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000, pattern=NO_NUL,
                      examples=["error rate down to 2% after the rollback"])
    public: bool = False


class RoleIn(BaseModel):
    """A role given to a person (or handed over)."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(min_length=1, max_length=16, pattern=NO_NUL,
                      description="commander (ic), ops, app, comms or scribe",
                      examples=["commander"])
    person: str = Field(min_length=1, max_length=128, pattern=NO_NUL, examples=["dana"])


class LevelIn(BaseModel):
    """A new severity level, and why."""

    model_config = ConfigDict(extra="forbid")

    level: str = Field(min_length=1, max_length=16, pattern=NO_NUL, examples=["SEV0"])
    reason: str | None = Field(None, max_length=2000, pattern=NO_NUL,
                               examples=["every tenant affected"])


class LinkIn(BaseModel):
    """A run, rollback or alert to tie to the incident."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["run", "rollback", "alert"]
    ref: str = Field(min_length=1, max_length=160, pattern=NO_NUL,
                     description="the run's id, the rollback's run id, or the alert's "
                     "fingerprint")


class IntakeOut(BaseModel):
    """What an Alertmanager notification did."""

    incident_id: str | None = Field(description="the group's incident (null: none)")
    outcome: Literal["created", "updated", "unchanged", "ignored"]
    status: IncidentStatus | None = Field(description="the incident's status afterwards")
    new_alerts: int
    changed_alerts: int
    message: str


# -- helpers -----------------------------------------------------------------------------


def _check(principal: Principal, role: str, environment: str | None) -> None:
    """The role on the environment; on at least one when the incident has none."""
    if environment is None:
        principal.check_somewhere(role)
    else:
        principal.check(role, environment)


# -- incidents ---------------------------------------------------------------------------


@router.get("/incidents", response_model=Page[IncidentOut], summary="List incidents",
            responses=errors(401, 403, 422),
            description="Incidents, newest first, optionally filtered; paginated with "
                        "`limit`/`offset`. Only incidents of environments the caller may "
                        "view, and those of no environment.")
def list_incidents(
    rt: RuntimeDep, principal: PrincipalDep,
    status: Annotated[list[IncidentStatus] | None,
                      Query(description="only these statuses (repeat the parameter)")] = None,
    service_name: Annotated[str | None, Query(alias="service", max_length=64,
                                              pattern=NO_NUL)] = None,
    environment: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """Incidents, one page."""
    principal.check_somewhere("viewer")
    if environment is not None:
        principal.check("viewer", environment)
    with rt.db.read() as s:
        rows = service.listing(session=s, status=status, service=service_name,
                               environment=environment, limit=limit + 1, offset=offset,
                               environments=principal.environments("viewer"))
    return page([views.incident_dict(r) for r in rows], limit=limit, offset=offset)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail,
            summary="Show an incident", responses=errors(401, 403, 404),
            description="An incident with its roles, links and timeline. Needs viewer on its "
                        "environment.")
def get_incident(incident_id: IncidentId, rt: RuntimeDep,
                 principal: PrincipalDep) -> dict[str, Any]:
    """One incident in full."""
    principal.check_somewhere("viewer")
    with rt.db.read() as s:
        row = service.get(session=s, incident_id=incident_id)
        _check(principal, "viewer", row.environment)
        return views.incident_detail(s, row)


@router.post("/incidents", status_code=201, response_model=IncidentDetail,
             summary="Open an incident", responses=errors(400, 401, 403, 422),
             description="Open an incident: its level from `level`, or from `signals` by the "
                         "severity policy; a channel, the playbook that fits and the first "
                         "page come with it. Needs deployer on its environment (on at least "
                         "one when it has none).")
def open_incident(body: OpenIn, rt: RuntimeDep, project: ProjectDep, principal: PrincipalDep,
                  actor: ActorDep) -> dict[str, Any]:
    """Open an incident."""
    _check(principal, "deployer", body.environment)
    project.check_target(body.service, body.environment)
    signals = body.signals.model_dump(exclude_none=True) if body.signals else None
    with rt.db.session() as s:
        row = service.open_incident(
            session=s, policy=project.spec.incidents, title=body.title, actor=actor,
            at=now(), level=body.level, signals=signals, service=body.service,
            environment=body.environment, summary=body.summary, playbook=body.playbook)
        return views.incident_detail(s, row)


@router.post("/incidents/{incident_id}/status", response_model=IncidentDetail,
             summary="Change an incident's status", responses=errors(401, 403, 404, 409, 422),
             description="Move the incident: investigating, identified, mitigating, "
                         "resolved (drafts the post-mortem), closed (once resolved and its "
                         "post-mortem published), or back to investigating (reopen). Refused "
                         "(409) when the move is not allowed. Needs deployer on its "
                         "environment.")
def post_status(incident_id: IncidentId, body: StatusIn, rt: RuntimeDep, project: ProjectDep,
                principal: PrincipalDep, actor: ActorDep) -> dict[str, Any]:
    """Change the status."""
    with rt.db.session() as s:
        row = _writable(s, principal, incident_id)
        service.move(session=s, incident=row, to=body.to, actor=actor, at=now(),
                     note=body.note, public=body.public, policy=project.spec.incidents,
                     force=body.force)
        return views.incident_detail(s, row)


@router.post("/incidents/{incident_id}/notes", response_model=IncidentDetail,
             summary="Add an update", responses=errors(400, 401, 403, 404, 422),
             description="An update on the timeline: internal, or `public` (status page, "
                         "customers) too. Needs deployer on its environment.")
def post_note(incident_id: IncidentId, body: NoteIn, rt: RuntimeDep, principal: PrincipalDep,
              actor: ActorDep) -> dict[str, Any]:
    """Add an update."""
    with rt.db.session() as s:
        row = _writable(s, principal, incident_id)
        service.note(session=s, incident=row, text=body.text, actor=actor, at=now(),
                     public=body.public)
        return views.incident_detail(s, row)


@router.post("/incidents/{incident_id}/roles", response_model=IncidentDetail,
             summary="Assign a role", responses=errors(400, 401, 403, 404, 409, 422),
             description="Give a role (commander or ic, ops, app, comms, scribe) to a person, "
                         "or hand it over. Needs deployer on its environment.")
def post_role(incident_id: IncidentId, body: RoleIn, rt: RuntimeDep, principal: PrincipalDep,
              actor: ActorDep) -> dict[str, Any]:
    """Assign a role."""
    with rt.db.session() as s:
        row = _writable(s, principal, incident_id)
        service.assign(session=s, incident=row, role=body.role, person=body.person,
                       actor=actor, at=now())
        return views.incident_detail(s, row)


@router.post("/incidents/{incident_id}/ack", response_model=IncidentDetail,
             summary="Acknowledge the page", responses=errors(401, 403, 404),
             description="Acknowledge the incident's page: escalation stops. Acknowledging "
                         "again changes nothing (`acknowledged_by` says who did). Needs "
                         "deployer on its environment.")
def post_ack(incident_id: IncidentId, rt: RuntimeDep, principal: PrincipalDep,
             actor: ActorDep) -> dict[str, Any]:
    """Acknowledge."""
    with rt.db.session() as s:
        row = _writable(s, principal, incident_id)
        service.acknowledge(session=s, incident=row, actor=actor, at=now())
        return views.incident_detail(s, row)


@router.post("/incidents/{incident_id}/level", response_model=IncidentDetail,
             summary="Change the severity level", responses=errors(400, 401, 403, 404, 409,
                                                                   422),
             description="Raise or lower the level; the new level's clocks apply from now. "
                         "Needs deployer on its environment.")
def post_level(incident_id: IncidentId, body: LevelIn, rt: RuntimeDep, project: ProjectDep,
               principal: PrincipalDep, actor: ActorDep) -> dict[str, Any]:
    """Change the level."""
    with rt.db.session() as s:
        row = _writable(s, principal, incident_id)
        service.set_level(session=s, policy=project.spec.incidents, incident=row,
                          level=body.level, actor=actor, at=now(), reason=body.reason)
        return views.incident_detail(s, row)


@router.post("/incidents/{incident_id}/links", response_model=IncidentDetail,
             summary="Link a run, rollback or alert", responses=errors(400, 401, 403, 404,
                                                                      422),
             description="Tie a run, a rollback or an alert to the incident (once; linking "
                         "again changes nothing). A run must exist. Needs deployer on its "
                         "environment.")
def post_link(incident_id: IncidentId, body: LinkIn, rt: RuntimeDep, principal: PrincipalDep,
              actor: ActorDep) -> dict[str, Any]:
    """Link a run, rollback or alert."""
    with rt.db.session() as s:
        row = _writable(s, principal, incident_id)
        if body.kind == "run" and s.get(Run, body.ref) is None:
            raise NotFoundError(f"no run {body.ref!r}; `rollgate history` lists them")
        service.link(session=s, incident=row, kind=body.kind, ref=body.ref, actor=actor,
                     at=now())
        return views.incident_detail(s, row)


def _writable(s: Session, principal: Principal, incident_id: str) -> Incident:
    """The incident, once the caller may change it (deployer on its environment)."""
    row = service.get(session=s, incident_id=incident_id)
    _check(principal, "deployer", row.environment)
    return row


# -- Alertmanager ------------------------------------------------------------------------


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` put in place (an OpenAPI request body
    cannot point into them)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return dict(walk(schema))


_ALERT_OPENAPI: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": _inline(alerts.AlertmanagerPayload.model_json_schema())}}},
    "parameters": [{"name": SIGNATURE_HEADER, "in": "header", "required": False,
                    "description": "`sha256=<hex>`: HMAC-SHA256 of the body with "
                                   "`incidents.alerts.hmac_secret`",
                    "schema": {"type": "string"}}],
}


async def _read_body(request: Request) -> bytes:
    """The raw body, refused (413) past ``MAX_ALERT_BODY`` before more is read."""
    too_large = HTTPException(413, f"the body is larger than {MAX_ALERT_BODY} bytes; lower "
                                   "Alertmanager's max_alerts for this receiver")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ALERT_BODY:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ALERT_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _secret(value: str | None, where: str, problems: list[str]) -> bytes | None:
    """A configured secret with ``${NAME}`` filled in (None: not configured or unset)."""
    if not value:
        return None
    try:
        filled = fill_refs(value, where, UsageError)
    except UsageError as exc:
        problems.append(exc.message)
        return None
    return filled.encode() or None


def _authenticate(rt: Runtime, intake: AlertIntake, token: str | None, signature: str | None,
                  body: bytes) -> Principal | None:
    """Who sends: None for the spec's token or signature, a principal for an API token;
    Unauthenticated saying what to send or configure otherwise."""
    problems: list[str] = []  # unset ${NAME} references first: they say what to export
    expected = _secret(intake.token, "incidents.alerts.token", problems)
    key = _secret(intake.hmac_secret, "incidents.alerts.hmac_secret", problems)
    if token is not None and expected is not None and hmac.compare_digest(token.encode(),
                                                                         expected):
        return None
    if signature is not None and key is not None:
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        given = signature.strip().lower().removeprefix("sha256=")
        if hmac.compare_digest(given.encode(), digest.encode()):
            return None
        problems.append(f"{SIGNATURE_HEADER} does not match: send `sha256=<hex>` of the "
                        "HMAC-SHA256 of the exact body bytes with incidents.alerts.hmac_secret")
    elif signature is not None and not problems:
        problems.append(f"{SIGNATURE_HEADER} was sent but incidents.alerts.hmac_secret is not "
                        "set in the spec")
    if token is not None and credentials.parse_token(token) is not None:
        return accounts.token_principal(rt.db, token)
    if token is not None and expected is not None:
        problems.append("the bearer token is neither incidents.alerts.token nor a rollgate "
                        "API token")
    if not problems and expected is None and key is None:
        problems.append("no alert credentials are configured: set incidents.alerts.token "
                        "(Alertmanager sends it with http_config.authorization) or "
                        "incidents.alerts.hmac_secret in the spec, or send a rollgate API "
                        "token of a user with the deployer role")
    elif not problems:
        problems.append(f"send `Authorization: Bearer <incidents.alerts.token>`, a "
                        f"`{SIGNATURE_HEADER}: sha256=<hex>` HMAC of the body, or a rollgate "
                        "API token of a user with the deployer role")
    raise Unauthenticated("; ".join(problems))


def _has_nul(node: Any) -> bool:
    """True when a string (key or value) anywhere in parsed JSON holds a NUL."""
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_nul(v) for v in node)
    return False


def _parse(body: bytes) -> alerts.AlertmanagerPayload:
    """The payload, or 400 (not JSON, a NUL) / 422 (wrong shape, naming the field)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"the body is not JSON ({exc}); Alertmanager's webhook sends "
                         "version 4 JSON") from None
    if _has_nul(data):
        raise UsageError("the body contains a NUL character (\\u0000), which the store "
                         "cannot keep")
    try:
        return alerts.AlertmanagerPayload.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False,
                                                                   include_context=False)]
        ) from None


@router.post("/alerts/alertmanager", response_model=IntakeOut,
             summary="Receive an Alertmanager notification",
             responses={**errors(400, 401, 403, 422),
                        413: {"model": ErrorOut, "description": "the body is over 1 MiB"}},
             openapi_extra=_ALERT_OPENAPI,
             description="Alertmanager's webhook (payload version 4): a group's first firing "
                         "alert opens an incident (one per `groupKey`), later ones add to it, "
                         "a retried notification changes nothing, and the group's resolution "
                         "resolves (or notes) the incident. Authenticated by "
                         "`Authorization: Bearer <incidents.alerts.token>`, by "
                         f"`{SIGNATURE_HEADER}: sha256=<hex>` (HMAC-SHA256 of the body "
                         "with `incidents.alerts.hmac_secret`), or by a rollgate API token "
                         "of a user with deployer on the alerts' environment. Open mode "
                         "does not open this route.")
async def alertmanager(
    request: Request, rt: RuntimeDep, project: ProjectDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> dict[str, Any]:
    """Take an Alertmanager notification."""
    body = await _read_body(request)
    policy = project.spec.incidents
    token = bearer.credentials if bearer else None
    try:
        principal = await run_in_threadpool(_authenticate, rt, policy.alerts, token,
                                            request.headers.get(SIGNATURE_HEADER), body)
    except Unauthenticated as exc:
        log.warning("alertmanager webhook from %s refused: %s", client_address(request),
                    exc.message)
        raise
    payload = _parse(body)
    actor = alerts.ACTOR
    if principal is not None:
        _check(principal, "deployer", alerts.environment_of(policy, payload))
        actor = principal.name
    result = await run_in_threadpool(
        alerts.receive, rt.db, policy=policy, payload=payload, at=now(), actor=actor,
        services=tuple(project.spec.services), environments=tuple(project.spec.environments))
    log.info("alertmanager group %s: %s", payload.groupKey[:120], result.message)
    return result.as_dict()
