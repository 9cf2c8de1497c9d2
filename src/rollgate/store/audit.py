"""The audit log: who did what, when, to what; append-only and hash-chained.

Each event's hash is ``sha256(previous hash + canonical JSON of the event)``; a head row
holds the newest sequence number and hash. Appending locks the head first, so writers
(CLIs, servers, on SQLite or PostgreSQL) chain one after another. ``verify`` recomputes
the chain and names the first row that was edited, deleted or inserted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rollgate.store.runs import now
from rollgate.store.tables import AuditEvent, AuditHead

GENESIS = "0" * 64


def event_hash(prev: str, *, seq: int, at: datetime, actor: str, action: str, target: str,
               detail: dict[str, Any]) -> str:
    """The hash of one event chained to the one before."""
    body = json.dumps({"seq": seq, "at": at.isoformat(timespec="microseconds"),
                       "actor": actor, "action": action, "target": target, "detail": detail},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev + body).encode()).hexdigest()


def record(*, session: Session, actor: str, action: str, target: str,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    """Append one audit event to the chain."""
    # Updating the head first locks it: the next writer waits here until this one commits.
    head = session.execute(update(AuditHead).where(AuditHead.id == 1)
                           .values(seq=AuditHead.seq + 1)
                           .returning(AuditHead.seq, AuditHead.hash)).one()
    seq, prev = head.seq, head.hash
    at = now()
    clean = json.loads(json.dumps(detail or {}, default=str))  # what the store gives back
    digest = event_hash(prev, seq=seq, at=at, actor=actor, action=action, target=target,
                        detail=clean)
    event = AuditEvent(seq=seq, at=at, actor=actor, action=action, target=target,
                       detail=clean, prev_hash=prev, hash=digest)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    return event


def events(*, session: Session, limit: int = 100, offset: int = 0, actor: str | None = None,
           action: str | None = None, target: str | None = None,
           since: datetime | None = None) -> list[AuditEvent]:
    """Audit events, newest first, filtered."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if target:
        query = query.where(AuditEvent.target.startswith(target))
    if since:
        query = query.where(AuditEvent.at >= since)
    return list(session.scalars(query.offset(offset).limit(limit)))


@dataclass(frozen=True)
class Verdict:
    """What verify found: how many events, and the first broken one (None: intact)."""

    checked: int
    bad_seq: int | None = None
    bad_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return self.reason is None


def verify(*, session: Session, batch: int = 5000) -> Verdict:
    """Recompute the chain from the first event; stop at the first row that does not fit.

    The head is read first: events appended while verify runs are left for the next run.
    """
    head = session.get(AuditHead, 1)
    last = head.seq if head is not None else 0
    prev, expected, checked, after = GENESIS, 1, 0, 0
    while True:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > after,
                                                             AuditEvent.seq <= last)
                                    .order_by(AuditEvent.seq).limit(batch)))
        for row in rows:
            if row.seq != expected:
                what = "deleted" if row.seq > expected else "duplicated"
                return Verdict(checked, row.seq, row.id,
                               f"event {expected} is missing before event {row.seq} "
                               f"(row {what})")
            if row.prev_hash != prev:
                return Verdict(checked, row.seq, row.id,
                               f"event {row.seq} does not follow event {row.seq - 1} "
                               "(a row before it was changed or replaced)")
            digest = event_hash(prev, seq=row.seq, at=row.at, actor=row.actor,
                                action=row.action, target=row.target, detail=row.detail)
            if digest != row.hash:
                return Verdict(checked, row.seq, row.id,
                               f"event {row.seq} was edited (its content no longer matches "
                               "its hash)")
            prev, expected, checked, after = row.hash, expected + 1, checked + 1, row.seq
        if len(rows) < batch:
            break
    if head is not None and (head.seq, head.hash) != (checked, prev):
        return Verdict(checked, checked + 1, None,
                       f"the log ends at event {checked} but {head.seq} were written "
                       "(the newest rows were deleted)")
    return Verdict(checked)
