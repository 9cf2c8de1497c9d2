"""The outbox: events become one message per channel (routing), and messages are delivered
with retries, exponential backoff with jitter, and an idempotency key; after the last
attempt a message is dead-lettered, listed by ``rollgate notifications list --failed``, and
can be sent again.

Exactly once, as far as the receiver can tell:

- routing claims an event by setting ``routed_at`` only where it is still unset, and a
  message's idempotency key (event key + channel) is unique: a second server, or a retry
  after a crash, routes nothing twice;
- delivery claims a message by compare-and-set on its attempt count (``sending`` with a
  lease); a claim whose process died is taken over when the lease ends;
- the messages of one thread (a channel and one incident, run or notice) go out one at a
  time, in the order of their events; other threads go in parallel. The one window
  left (sent, then the process died before recording it) is what the idempotency key is
  for: every attempt carries the same one (``Idempotency-Key``, PagerDuty's dedup key, the
  e-mail's Message-ID).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from rollgate.errors import NotFoundError, RefusedError
from rollgate.notify.channels import PLUGINS
from rollgate.notify.channels.base import Attempt, DeliveryFailed
from rollgate.notify.events import data_of
from rollgate.redact import REF, fill_refs, redact
from rollgate.spec.models import Spec
from rollgate.spec.notify import Delivery, QuietHours, Route
from rollgate.store import audit
from rollgate.store.db import Database
from rollgate.store.runs import now
from rollgate.store.tables import Notification, NotifyEvent

PENDING, SENDING, DELIVERED, DEAD = "pending", "sending", "delivered", "dead"
STATES = (PENDING, SENDING, DELIVERED, DEAD)
LEASE_MARGIN = 30.0  # seconds a claim outlives its attempt's time limit
SENDERS = 8  # messages sent at once by one pass
_RNG = random.Random()


# --- routing ----------------------------------------------------------------------------

def quiet_until(quiet: QuietHours, at: datetime) -> datetime | None:
    """When the quiet hours around ``at`` end, or None when ``at`` is outside them."""
    zone = ZoneInfo(quiet.timezone)
    local = at.astimezone(zone)
    start, end = time.fromisoformat(quiet.start), time.fromisoformat(quiet.end)
    now_t = local.time().replace(tzinfo=None)
    if start <= end:
        inside, day = start <= now_t < end, local.date()
    else:  # over midnight (22:00 to 07:00)
        inside = now_t >= start or now_t < end
        day = local.date() + timedelta(days=1) if now_t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=zone).astimezone(at.tzinfo)


def _passes(route: Route, spec: Spec, event: NotifyEvent) -> bool:
    if not route.matches_event(event.kind):
        return False
    if route.environments is not None and event.environment is not None \
            and event.environment not in route.environments:
        return False
    if route.services is not None and event.service is not None \
            and event.service not in route.services:
        return False
    if route.public_only and not event.public:
        return False
    if route.min_severity is not None and event.severity is not None:
        return event.severity <= spec.incidents.severity_policy().index(route.min_severity)
    return True


def _held(route: Route, spec: Spec, event: NotifyEvent, at: datetime) -> datetime | None:
    """Until when quiet hours hold this event on this route (None: send now)."""
    quiet = route.quiet_hours
    if quiet is None:
        return None
    if quiet.unless is not None and event.severity is not None \
            and event.severity <= spec.incidents.severity_policy().index(quiet.unless):
        return None
    return quiet_until(quiet, at)


def targets(spec: Spec, event: NotifyEvent, at: datetime) -> dict[str, tuple[datetime, bool]]:
    """The channels ``event`` goes to, each with when to send it first (quiet hours hold
    it; a channel reached by several routes gets it once, at the earliest) and whether it
    gets the public view only (every route to it is ``public_only``)."""
    out: dict[str, tuple[datetime, bool]] = {}
    for route in spec.notifications.routes:
        if not _passes(route, spec, event):
            continue
        due = _held(route, spec, event, at) or at
        for name in route.channels:
            before, outside = out.get(name, (due, True))
            out[name] = (min(before, due), outside and route.public_only)
    return out


def idempotency_key(event: NotifyEvent, channel: str) -> str:
    """The key a receiver sees on every attempt of this event to this channel."""
    return f"rollgate:{event.key}:{channel}"


def thread(event: NotifyEvent, channel: str) -> str:
    """What must arrive in order on a channel: one incident's, run's or notice's messages
    (a PagerDuty resolve never overtakes its trigger); different threads go in parallel,
    and one held or failing thread does not hold up the others."""
    refs = (event.data or {}).get("refs") or {}
    for name in ("incident", "run", "notice"):
        if refs.get(name):
            return f"{channel}:{name}:{refs[name]}"
    return f"{channel}:event:{event.key}"


def route(session: Session, spec: Spec, *, at: datetime, limit: int = 500) -> int:
    """Turn events not routed yet into messages, one per channel; return how many messages.

    An event is claimed by setting ``routed_at`` where it is still unset: when two servers
    route at once, each event is routed by one of them.
    """
    events = session.scalars(select(NotifyEvent).where(NotifyEvent.routed_at.is_(None))
                             .order_by(NotifyEvent.id).limit(limit)).all()
    made = 0
    for event in events:
        claimed = session.execute(update(NotifyEvent).where(
            NotifyEvent.id == event.id, NotifyEvent.routed_at.is_(None))
            .values(routed_at=at).execution_options(synchronize_session=False))
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        for name, (due, outside) in targets(spec, event, at).items():
            config = spec.notifications.channels[name]
            payload = PLUGINS[config.type].render(data_of(event, outside), config)
            if payload is None:  # the channel has nothing to say of this kind of event
                continue
            session.add(Notification(
                event_id=event.id, channel=name, thread=thread(event, name),
                channel_type=config.type,
                idempotency_key=idempotency_key(event, name), payload=payload, state=PENDING,
                attempts=0, created_at=at, next_attempt_at=due))
            made += 1
    return made


# --- delivery ---------------------------------------------------------------------------

def backoff(delivery: Delivery, attempts: int, retry_after: float | None = None,
            rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: ``backoff`` doubled per
    attempt up to ``max_backoff``, with equal jitter (half fixed, half random, so retries
    from many messages spread out), and at least what the receiver asked for."""
    ceiling = float(min(delivery.max_backoff, delivery.backoff * 2.0 ** max(attempts - 1, 0)))
    wait = ceiling / 2 + (rng or _RNG).uniform(0, ceiling / 2)
    if retry_after is not None:
        wait = max(wait, min(retry_after, delivery.max_backoff))
    return wait


@dataclass(frozen=True)
class Claimed:
    """A message this process is sending now."""

    id: int
    channel: str
    channel_type: str
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int


@dataclass
class Outcome:
    """What one delivery pass did."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def total(self) -> int:
        """Messages attempted."""
        return self.delivered + self.retrying + self.dead


def _due(at: datetime) -> Any:
    """Due now, and the first unfinished message of its thread (order within a thread)."""
    earlier = aliased(Notification)
    first = ~exists().where(earlier.thread == Notification.thread,
                            earlier.id < Notification.id,
                            earlier.state.in_((PENDING, SENDING)))
    return and_(or_(and_(Notification.state == PENDING, Notification.next_attempt_at <= at),
                    and_(Notification.state == SENDING, Notification.claimed_until < at)),
                first)


def claim(db: Database, *, worker: str, timeout: float, limit: int = 100) -> list[Claimed]:
    """Take up to ``limit`` due messages (and ones whose sender died mid-attempt) in one
    UPDATE … RETURNING whose condition is "still due": a row another server claimed in the
    meantime no longer matches, so two servers never send one message at once."""
    at = now()
    lease = at + timedelta(seconds=timeout + LEASE_MARGIN)
    with db.session() as s:
        ids = list(s.scalars(select(Notification.id).where(_due(at))
                             .order_by(Notification.next_attempt_at, Notification.id)
                             .limit(limit)))
        if not ids:
            return []
        rows = s.execute(
            update(Notification).where(Notification.id.in_(ids), _due(at))
            .values(state=SENDING, claimed_by=worker, claimed_until=lease,
                    attempts=Notification.attempts + 1)
            .returning(Notification.id, Notification.channel, Notification.channel_type,
                       Notification.payload, Notification.idempotency_key,
                       Notification.attempts)
            .execution_options(synchronize_session=False)).all()
    order = {row_id: n for n, row_id in enumerate(ids)}  # RETURNING keeps no order
    return sorted((Claimed(r[0], r[1], r[2], dict(r[3]), r[4], r[5]) for r in rows),
                  key=lambda c: order[c.id])


def channel_secrets(config: Any) -> list[str]:
    """The filled values of a channel's ``${NAME}`` references (masked in every error)."""
    values: list[str] = []
    for field, value in config:
        items: Iterable[Any] = value.values() if isinstance(value, dict) else [value]
        for item in items:
            if isinstance(item, str) and REF.search(item):
                try:
                    values.append(fill_refs(item, field))
                except Exception:  # an unset reference has no value to mask
                    continue
    return sorted((v for v in values if len(v) >= 2), key=len, reverse=True)


def _send(spec: Spec, message: Claimed, client: httpx.Client) -> tuple[str | None,
                                                                      DeliveryFailed | None]:
    config = spec.notifications.channels.get(message.channel)
    if config is None or config.type != message.channel_type:
        return None, DeliveryFailed(f"channel {message.channel!r} ({message.channel_type}) is "
                                    "not in the spec any more; add it back, then resend")
    attempt = Attempt(channel=message.channel, idempotency_key=message.idempotency_key,
                      timeout=spec.notifications.delivery.timeout, client=client)
    try:
        answer = PLUGINS[config.type].send(message.payload, config, attempt)
    except DeliveryFailed as failed:
        masked = redact(failed.message, channel_secrets(config))
        return None, DeliveryFailed(masked, retry=failed.retry, retry_after=failed.retry_after)
    except Exception as exc:  # a plugin bug must not lose the message: retried, then dead
        return None, DeliveryFailed(redact(f"internal error: {exc!r}",
                                           channel_secrets(config)))
    return redact(answer, channel_secrets(config))[:300], None


def record(db: Database, spec: Spec, message: Claimed, *, worker: str, answer: str | None,
           failure: DeliveryFailed | None) -> str:
    """Write what the attempt did: delivered, back to pending with its next try, or dead;
    return that state."""
    at = now()
    delivery = spec.notifications.delivery
    values: dict[str, Any]
    if failure is None:
        values = {"state": DELIVERED, "delivered_at": at, "response": answer,
                  "claimed_until": None}
    elif not failure.retry or message.attempts >= delivery.max_attempts:
        why = "" if failure.retry else " (not worth retrying)"
        values = {"state": DEAD, "dead_at": at, "claimed_until": None,
                  "last_error": f"attempt {message.attempts}: {failure.message}{why}"}
    else:
        wait = backoff(delivery, message.attempts, failure.retry_after)
        values = {"state": PENDING, "claimed_until": None,
                  "next_attempt_at": at + timedelta(seconds=wait),
                  "last_error": f"attempt {message.attempts}: {failure.message}"}
    with db.session() as s:
        s.execute(update(Notification).where(
            Notification.id == message.id, Notification.claimed_by == worker,
            Notification.attempts == message.attempts, Notification.state == SENDING)
            .values(**values).execution_options(synchronize_session=False))
    return str(values["state"])


def deliver(db: Database, spec: Spec, *, worker: str, client: httpx.Client,
            limit: int = 100) -> Outcome:
    """One delivery pass: claim what is due, send it (several at once), record each."""
    outcome = Outcome()
    claimed = claim(db, worker=worker, timeout=spec.notifications.delivery.timeout,
                    limit=limit)
    if not claimed:
        return outcome

    def one(message: Claimed) -> str:
        answer, failure = _send(spec, message, client)
        return record(db, spec, message, worker=worker, answer=answer, failure=failure)

    if len(claimed) == 1:
        states = [one(claimed[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(claimed))) as pool:
            states = list(pool.map(one, claimed))
    outcome.delivered = states.count(DELIVERED)
    outcome.retrying = states.count(PENDING)
    outcome.dead = states.count(DEAD)
    return outcome


def run_pass(db: Database, spec: Spec, *, worker: str, client: httpx.Client) -> Outcome:
    """Route new events, then deliver what is due: the worker's unit of work."""
    with db.session() as s:
        route(s, spec, at=now())
    return deliver(db, spec, worker=worker, client=client)


# --- dead letters and the listing ---------------------------------------------------------

def listing(*, session: Session, state: str | None = None, channel: str | None = None,
            limit: int = 50, offset: int = 0, environments: Collection[str] | None = None
            ) -> list[tuple[Notification, NotifyEvent]]:
    """Messages with their events, newest first; ``state`` ``failed`` means dead-lettered;
    ``environments``: only those of events of these environments and of none (None: all)."""
    q = select(Notification, NotifyEvent).join(NotifyEvent,
                                               NotifyEvent.id == Notification.event_id)
    if state:
        q = q.where(Notification.state == (DEAD if state == "failed" else state))
    if channel:
        q = q.where(Notification.channel == channel)
    if environments is not None:
        q = q.where(or_(NotifyEvent.environment.in_(sorted(environments)),
                        NotifyEvent.environment.is_(None)))
    rows = session.execute(q.order_by(Notification.id.desc()).limit(limit)
                           .offset(offset)).all()
    return [(n, e) for n, e in rows]


def message_dict(row: Notification, event: NotifyEvent) -> dict[str, Any]:
    """A message and its event as plain data (the payload has no secrets in it)."""
    return {"id": row.id, "channel": row.channel, "type": row.channel_type,
            "state": row.state, "attempts": row.attempts, "event": event.kind,
            "subject": event.subject, "environment": event.environment,
            "idempotency_key": row.idempotency_key, "created_at": row.created_at,
            "next_attempt_at": row.next_attempt_at, "delivered_at": row.delivered_at,
            "dead_at": row.dead_at, "last_error": row.last_error, "response": row.response}


def environment_of(*, session: Session, notification_id: int) -> tuple[bool, str | None]:
    """Whether the message exists, and its event's environment."""
    found = session.execute(select(NotifyEvent.environment).join(
        Notification, Notification.event_id == NotifyEvent.id).where(
        Notification.id == notification_id)).first()
    return (found is not None, found[0] if found is not None else None)


def resend(*, session: Session, notification_id: int, actor: str) -> Notification:
    """Send a dead-lettered message again from a fresh attempt count (same idempotency
    key); a message still pending is sent at once. A delivered one is refused."""
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFoundError(f"no notification {notification_id}; `rollgate notifications "
                            "list` lists them")
    if row.state == DELIVERED:
        raise RefusedError(f"notification {notification_id} was delivered at "
                           f"{row.delivered_at:%Y-%m-%d %H:%M:%S} UTC; sending it again would "
                           "duplicate it")
    if row.state == SENDING:
        raise RefusedError(f"notification {notification_id} is being sent now; look again "
                           "in a minute")
    row.state, row.attempts, row.next_attempt_at = PENDING, 0, now()
    row.dead_at = None
    audit.record(session=session, actor=actor, action="notification.resend",
                 target=f"notification/{row.id}",
                 detail={"channel": row.channel, "key": row.idempotency_key})
    return row
