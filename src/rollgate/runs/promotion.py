"""`rollgate promote`: deploy to one environment exactly the release that passed another.

A version passed an environment when a deploy of it there succeeded. Promotion refuses
any other (unless it is an emergency, with a reason, by an approver), writes release notes
from git (the commits between the destination's live version and the new one) onto the
release, and deploys it through every gate of the destination.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from rollgate.engine.runtime import Runtime
from rollgate.errors import RefusedError, UsageError
from rollgate.runs import git
from rollgate.runs import service as runs
from rollgate.runs.service import Project
from rollgate.store import inventory
from rollgate.store import runs as run_store
from rollgate.store.tables import Release, Run


@dataclass(frozen=True)
class Promotion:
    """A promotion started: its run, and the release notes written for it."""

    run_id: str
    version: str
    notes: str


def passed(rt: Runtime, *, service: str, environment: str, version: str) -> Run | None:
    """The newest successful deploy of ``version`` of ``service`` to ``environment``."""
    with rt.db.read() as s:
        return s.scalars(
            select(Run).where(Run.kind == "deploy", Run.service == service,
                              Run.environment == environment, Run.version == version,
                              Run.status == run_store.SUCCEEDED)
            .order_by(Run.created_at.desc()).limit(1)).first()


def candidate(rt: Runtime, project: Project, *, service: str, source: str,
              version: str | None) -> str:
    """The version to promote: the one asked for, or the one live in ``source``."""
    if version:
        return version
    with rt.db.read() as s:
        live = inventory.deployment(session=s, service=service, environment=source)
    if live is None:
        raise RefusedError(f"nothing to promote: no version of {service} is live in {source}; "
                           f"deploy one there first")
    return live.version


def promote(rt: Runtime, project: Project, *, service: str, source: str, dest: str,
            version: str | None, actor: str, emergency: str | None = None,
            wait: bool = False, wait_window: bool | None = None,
            via: str | None = None, major: bool = False) -> Promotion:
    """Check the version passed ``source``, write its notes, start its deploy to ``dest``."""
    project.check_target(service, source)
    project.check_target(service, dest)
    if source == dest:
        raise UsageError("--from and --to are the same environment; promotion moves a release "
                         "from one environment to another")
    chosen = candidate(rt, project, service=service, source=source, version=version)
    proof = passed(rt, service=service, environment=source, version=chosen)
    if proof is None and not emergency:
        raise RefusedError(
            f"{service} {chosen} has not passed {source}: no deploy of it there succeeded. "
            f"Deploy it to {source} first; an emergency promotion (--emergency --reason '…', "
            f"by an approver of {dest}) overrides this and is recorded")
    with rt.db.read() as s:
        live = inventory.deployment(session=s, service=service, environment=dest)
    notes = _notes(project, service, live.version if live else None, chosen)
    run_id = runs.deploy(rt, project, service=service, environment=dest, version=chosen,
                         actor=actor, wait=wait, wait_window=wait_window, via=via,
                         emergency=emergency, major=major,
                         extra={"promotion": {"from": source,
                                              "passed_run": proof.id if proof else None}})
    _save_notes(rt, service, chosen, notes)
    return Promotion(run_id, chosen, notes)


def _notes(project: Project, service: str, live: str | None, version: str) -> str:
    repo = project.spec.promotion.repo
    if repo is None:
        return f"# {service} {version}\n\nNo notes: the spec names no git repository.\n"
    try:
        return git.release_notes(project.spec_dir / repo, service, live, version)
    except git.GitError as exc:
        return f"# {service} {version}\n\nNo notes: {exc}.\n"


def _save_notes(rt: Runtime, service: str, version: str, notes: str) -> None:
    with rt.db.session() as s:
        inventory.ensure_release(session=s, service=service, version=version)
        row = s.scalars(select(Release).where(Release.service == service,
                                              Release.version == version)).one()
        row.notes = notes
