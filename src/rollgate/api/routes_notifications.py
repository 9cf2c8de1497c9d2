"""The notification outbox: what went out to Slack, webhooks, PagerDuty and e-mail, what is
waiting or dead-lettered, and sending a dead letter again.

A message belongs to its event's environment: listing needs viewer (each caller sees the
environments they may view, and messages of no environment), resending needs deployer on
that environment (on at least one for a message of none).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from rollgate.api.auth import PrincipalDep
from rollgate.api.common import Limit, Offset, Page, RuntimeDep, errors, page
from rollgate.errors import NotFoundError
from rollgate.notify import outbox
from rollgate.store.tables import NotifyEvent

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

MessageState = Literal["pending", "sending", "delivered", "dead"]


class NotificationOut(BaseModel):
    """One message to one channel, with its delivery state."""

    id: int
    channel: str = Field(description="the channel's name in the spec")
    type: str = Field(description="slack, webhook, pagerduty or email")
    state: MessageState
    attempts: int
    event: str = Field(description="the event, e.g. incident.opened")
    subject: str
    environment: str | None
    idempotency_key: str = Field(description="the same on every attempt")
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_error: str | None = Field(description="the last failed attempt (secrets masked)")
    response: str | None = Field(description="the receiver's answer, short")


@router.get("", response_model=Page[NotificationOut], summary="List notifications",
            responses=errors(401, 403, 422),
            description="Messages, newest first; `failed=true` lists the dead letters. Needs "
                        "viewer; each caller sees the environments they may view.")
def list_notifications(
    rt: RuntimeDep, principal: PrincipalDep,
    failed: Annotated[bool, Query(description="only dead-lettered messages")] = False,
    state: Annotated[MessageState | None, Query()] = None,
    channel: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9-]*$")] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """Messages, one page."""
    principal.check_somewhere("viewer")
    with rt.db.read() as s:
        rows = outbox.listing(session=s, state="failed" if failed else state, channel=channel,
                              limit=limit + 1, offset=offset,
                              environments=principal.environments("viewer"))
        return page([outbox.message_dict(n, e) for n, e in rows], limit=limit,
                    offset=offset)


@router.post("/{notification_id}/resend", response_model=NotificationOut,
             summary="Send a notification again", responses=errors(401, 403, 404, 409),
             description="Queue a dead-lettered (or waiting) message again with a fresh "
                         "attempt count and the same idempotency key; a delivered one is "
                         "refused (409). Needs deployer on its environment.")
def resend(notification_id: Annotated[int, Path(ge=1, le=2**31 - 1)], rt: RuntimeDep,
           principal: PrincipalDep) -> dict[str, Any]:
    """Queue one message again."""
    with rt.db.session() as s:
        found, environment = outbox.environment_of(session=s,
                                                   notification_id=notification_id)
        if not found:
            principal.check_somewhere("viewer")
            raise NotFoundError(f"no notification {notification_id}")
        if environment is None:
            principal.check_somewhere("deployer")
        else:
            principal.check("deployer", environment)
        row = outbox.resend(session=s, notification_id=notification_id, actor=principal.name)
        return outbox.message_dict(row, s.get_one(NotifyEvent, row.event_id))
