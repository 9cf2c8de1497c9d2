"""What runs where: instances, proxies, the live deployment of each target, releases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.db import add_unique
from rollgate.store.runs import SUCCEEDED, now
from rollgate.store.tables import Deployment, Instance, Proxy, Release, Run


def instances(
    *, session: Session, service: str, environment: str, version: str | None = None
) -> list[Instance]:
    """Recorded instances of a target (running or starting), optionally of one version."""
    q = select(Instance).where(
        Instance.service == service, Instance.environment == environment
    )
    if version is not None:
        q = q.where(Instance.version == version)
    return list(session.scalars(q.order_by(Instance.version, Instance.replica)))


def save_instance(*, session: Session, instance: Instance) -> None:
    """Insert or update an instance row."""
    session.merge(instance)


def forget_instance(*, session: Session, instance_id: str) -> None:
    """Remove a stopped instance from the inventory."""
    row = session.get(Instance, instance_id)
    if row is not None:
        session.delete(row)


def set_retire(
    *, session: Session, service: str, environment: str, version: str, at: datetime | None
) -> None:
    """Schedule (or cancel) the decommissioning of a version's instances."""
    for row in instances(session=session, service=service, environment=environment,
                         version=version):
        row.retire_at = at


def due_for_retirement(*, session: Session, at: datetime) -> list[Instance]:
    """Instances whose keep-warm period has ended."""
    q = select(Instance).where(Instance.retire_at.is_not(None), Instance.retire_at <= at)
    return list(session.scalars(q))


def proxy(*, session: Session, service: str, environment: str) -> Proxy | None:
    """The proxy row of a target, if one was started."""
    return session.get(Proxy, (service, environment))


def save_proxy(*, session: Session, row: Proxy) -> None:
    """Insert or update a proxy row."""
    session.merge(row)


def forget_proxy(*, session: Session, service: str, environment: str) -> None:
    """Remove a stopped proxy from the inventory."""
    row = session.get(Proxy, (service, environment))
    if row is not None:
        session.delete(row)


def deployment(*, session: Session, service: str, environment: str) -> Deployment | None:
    """What is live for a target."""
    return session.get(Deployment, (service, environment))


def deployments(*, session: Session) -> list[Deployment]:
    """Every target's live deployment."""
    return list(session.scalars(select(Deployment).order_by(Deployment.service,
                                                            Deployment.environment)))


def set_live(*, session: Session, service: str, environment: str, version: str,
             run_id: str) -> None:
    """Record ``version`` as live; the version it replaces becomes the previous one."""
    row = session.get(Deployment, (service, environment))
    if row is None:
        session.add(Deployment(service=service, environment=environment, version=version,
                               previous_version=None, run_id=run_id, updated_at=now()))
        return
    if row.version != version:
        row.previous_version = row.version
    row.version = version
    row.run_id = run_id
    row.updated_at = now()


def clear_live(*, session: Session, service: str, environment: str) -> None:
    """Forget what is live for a target (after ``rollgate down``)."""
    row = session.get(Deployment, (service, environment))
    if row is not None:
        session.delete(row)


def ensure_release(*, session: Session, service: str, version: str,
                   commit_sha: str | None = None, committed_at: datetime | None = None) -> None:
    """Record a release the first time a version of a service is deployed, with its commit
    and commit time when known; a release recorded without them gets them later (once).

    Two environments may deploy a new version at the same moment: the second insert then
    meets the first one's row (PostgreSQL) and is dropped, not raised.
    """
    row = session.scalar(
        select(Release).where(Release.service == service, Release.version == version)
    )
    if row is None:
        # False: recorded by the other run.
        add_unique(session, Release(service=service, version=version, created_at=now(),
                                    commit_sha=commit_sha, committed_at=committed_at))
        return
    if row.committed_at is None and committed_at is not None:
        row.committed_at = committed_at
    if row.commit_sha is None and commit_sha is not None:
        row.commit_sha = commit_sha


def releases(*, session: Session, service: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[Release]:
    """Known releases, newest first."""
    q = select(Release).order_by(Release.created_at.desc(), Release.id.desc())
    if service:
        q = q.where(Release.service == service)
    return list(session.scalars(q.limit(limit).offset(offset)))


def live_history(*, session: Session, service: str, environment: str) -> list[str]:
    """Versions that went live here through successful runs, newest first, without repeats."""
    q = (
        select(Run.version)
        .where(Run.service == service, Run.environment == environment, Run.status == SUCCEEDED)
        .order_by(Run.finished_at.desc())
    )
    seen: list[str] = []
    for version in session.scalars(q):
        if version not in seen:
            seen.append(version)
    return seen
