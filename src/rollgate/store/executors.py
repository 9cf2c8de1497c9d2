"""Executors: processes that drive runs, and their heartbeats."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.runs import now
from rollgate.store.tables import Executor


def register(*, session: Session, executor_id: str, kind: str) -> None:
    """Record this process as a live executor."""
    at = now()
    session.merge(Executor(id=executor_id, kind=kind, host=socket.gethostname(),
                           pid=os.getpid(), started_at=at, beat_at=at))


def beat(*, session: Session, executor_id: str) -> None:
    """Refresh this executor's heartbeat."""
    row = session.get(Executor, executor_id)
    if row is not None:
        row.beat_at = now()


def unregister(*, session: Session, executor_id: str) -> None:
    """Remove an executor that stops cleanly."""
    row = session.get(Executor, executor_id)
    if row is not None:
        session.delete(row)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_alive(*, session: Session, executor_id: str | None, timeout: float) -> bool:
    """True when the executor beat recently (and, on this host, its process exists)."""
    if executor_id is None:
        return False
    row = session.get(Executor, executor_id)
    if row is None:
        return False
    if row.host == socket.gethostname() and not _pid_alive(row.pid):
        return False
    return now() - row.beat_at < timedelta(seconds=timeout)


def live_executors(*, session: Session, timeout: float) -> list[Executor]:
    """Executors that beat within ``timeout`` seconds."""
    cutoff = now() - timedelta(seconds=timeout)
    return list(session.scalars(select(Executor).where(Executor.beat_at >= cutoff)))
