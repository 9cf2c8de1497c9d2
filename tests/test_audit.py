"""The audit chain: appends from many writers stay one chain; any edit or deletion is named."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from sqlalchemy import delete, insert, select, update

from rollgate.store import audit
from rollgate.store.db import Database, alembic_config
from rollgate.store.tables import AuditEvent


def _db(database_url: str | None, tmp_path: Path) -> Database:
    return Database(database_url or f"sqlite:///{tmp_path / 'store.db'}")


def _append(db: Database, n: int, who: str = "ana") -> None:
    for i in range(n):
        with db.session() as s:
            audit.record(session=s, actor=who, action="deploy.requested", target="web/prod",
                         detail={"run": f"run-{who}-{i}", "ratio": 0.1, "ok": True})


def test_concurrent_writers_make_one_intact_chain(database_url: str | None,
                                                   tmp_path: Path) -> None:
    db = _db(database_url, tmp_path)
    db.migrate()
    threads = [threading.Thread(target=_append, args=(db, 25, f"w{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.session() as s:
        verdict = audit.verify(session=s)
        seqs = sorted(e.seq for e in audit.events(session=s, limit=1000))
    assert verdict.ok and verdict.checked == 100
    assert seqs == list(range(1, 101))
    db.dispose()


def test_an_edited_row_is_named(database_url: str | None, tmp_path: Path) -> None:
    db = _db(database_url, tmp_path)
    db.migrate()
    _append(db, 10)
    with db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(actor="mallory"))
        verdict = audit.verify(session=s)
    assert not verdict.ok and verdict.bad_seq == 4 and "edited" in str(verdict.reason)
    db.dispose()


def test_a_deleted_row_is_named(database_url: str | None, tmp_path: Path) -> None:
    db = _db(database_url, tmp_path)
    db.migrate()
    _append(db, 10)
    with db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 6))
        verdict = audit.verify(session=s)
    assert not verdict.ok and verdict.bad_seq == 7 and "event 6 is missing" in str(
        verdict.reason)
    with db.session() as s:  # deleting the newest rows is noticed through the head
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= 6))
        tail = audit.verify(session=s)
    assert not tail.ok and "the newest rows were deleted" in str(tail.reason)
    db.dispose()


def test_a_rewritten_chain_is_caught_at_the_first_changed_row(database_url: str | None,
                                                              tmp_path: Path) -> None:
    db = _db(database_url, tmp_path)
    db.migrate()
    _append(db, 5)
    with db.session() as s:  # an edit that also recomputes its own hash breaks the next link
        row = s.scalars(select(AuditEvent).where(AuditEvent.seq == 2)).one()
        row.actor = "mallory"
        row.hash = audit.event_hash(row.prev_hash, seq=2, at=row.at, actor=row.actor,
                                    action=row.action, target=row.target, detail=row.detail)
    with db.session() as s:
        verdict = audit.verify(session=s)
    assert verdict.bad_seq == 3 and "does not follow" in str(verdict.reason)
    db.dispose()


def test_events_written_before_the_chain_are_chained_by_the_migration(
        database_url: str | None, tmp_path: Path) -> None:
    db = _db(database_url, tmp_path)
    command.upgrade(alembic_config(db.engine), "0003")
    with db.engine.begin() as conn:
        old = AuditEvent.__table__
        for i in range(3):
            conn.execute(insert(old).values(at=audit.now(), actor="old", action="run.succeeded",
                                            target="web/prod", detail={"i": i}))
    db.migrate()
    _append(db, 2)
    with db.session() as s:
        verdict = audit.verify(session=s)
    assert verdict.ok and verdict.checked == 5
    db.dispose()
