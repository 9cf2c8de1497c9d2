"""The audit log: list events with filters, and verify the hash chain.

Both routes are read-only and need ``AUDIT_ROLE`` (admin) on every environment: the log
names every actor and target in every environment (logins, tokens, config changes), so
it is not per-environment reading like runs. In open mode (no users yet) the caller is the
local admin, as on every route.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from rollgate.api.auth import PrincipalDep
from rollgate.api.common import Limit, Offset, Page, RuntimeDep, errors, page
from rollgate.auth.principal import ANY_ENV
from rollgate.store import audit
from rollgate.store.tables import AuditEvent

AUDIT_ROLE = "admin"

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    """One audit event, with its link in the hash chain."""

    seq: int = Field(description="position in the chain, from 1")
    at: datetime
    actor: str
    action: str = Field(description="what was done, e.g. run.created, rollback.requested")
    target: str = Field(description="what it was done to, e.g. web/production")
    detail: dict[str, Any] = Field(description="before/after summary (secrets never recorded)")
    prev_hash: str = Field(description="hash of the event before (64 zeros for the first)")
    hash: str = Field(description="sha256 of prev_hash and this event's canonical JSON")


class VerifyOut(BaseModel):
    """What recomputing the chain found."""

    ok: bool = Field(description="true when every event fits the chain")
    checked: int = Field(description="events verified before the first bad one (all if ok)")
    bad_seq: int | None = Field(description="sequence number of the first bad event")
    bad_id: int | None = Field(description="row id of the first bad event, when it exists")
    reason: str | None = Field(description="what is wrong: edited, deleted or inserted rows")


def event_dict(event: AuditEvent) -> dict[str, Any]:
    """An audit event as plain data."""
    return {"seq": event.seq, "at": event.at, "actor": event.actor, "action": event.action,
            "target": event.target, "detail": event.detail, "prev_hash": event.prev_hash,
            "hash": event.hash}


def _utc(when: datetime | None) -> datetime | None:
    """``since`` in UTC (naive: read as UTC, like the CLI's ``--since``).

    A time that has no UTC equivalent (year 1 at +14:00, year 9999 at -14:00) is clamped to
    the first or last one, which filters the same way.
    """
    if when is None or when.tzinfo is None:
        return None if when is None else when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if when.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


@router.get("", response_model=Page[AuditEventOut], summary="List audit events",
            responses=errors(401, 403, 422),
            description="Audit events, newest first, optionally filtered by actor, action "
                        "prefix, target prefix and time; paginated with `limit`/`offset` "
                        "(follow `next_offset`). Needs admin on every environment.")
def list_audit(
    rt: RuntimeDep,
    principal: PrincipalDep,
    actor: Annotated[str | None, Query(max_length=128, description="only this actor")] = None,
    action: Annotated[str | None, Query(max_length=64, description="actions starting with "
                                        "this, e.g. `run.`")] = None,
    target: Annotated[str | None, Query(max_length=255, description="targets starting with "
                                        "this, e.g. `web/`")] = None,
    since: Annotated[datetime | None, Query(description="only events at or after this time "
                                            "(ISO 8601; UTC when no offset)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Audit events, newest first, one page."""
    principal.check(AUDIT_ROLE, ANY_ENV)
    with rt.db.session() as s:
        rows = audit.events(session=s, actor=actor, action=action, target=target,
                            since=_utc(since), limit=limit + 1, offset=offset)
        return page([event_dict(e) for e in rows], limit=limit, offset=offset)


@router.get("/verify", response_model=VerifyOut, summary="Verify the audit chain",
            responses=errors(401, 403),
            description="Recompute the hash chain from the first event. `ok` is false when a "
                        "row was edited, deleted or inserted, and `bad_seq` names the first "
                        "one; the answer is 200 either way. Reads the whole log. Needs admin "
                        "on every environment.")
def verify_audit(rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Recompute the chain; name the first event that does not fit."""
    principal.check(AUDIT_ROLE, ANY_ENV)
    with rt.db.session() as s:
        verdict = audit.verify(session=s)
    return {"ok": verdict.ok, "checked": verdict.checked, "bad_seq": verdict.bad_seq,
            "bad_id": verdict.bad_id, "reason": verdict.reason}
