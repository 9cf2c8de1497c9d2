"""The commit a release was built from, and when it was committed: where lead time for
changes starts (see ``rollgate.incidents.dora``).

A deploy may say it (``rollgate deploy --commit SHA --committed-at ISO``, kept in the run's
parameters); otherwise the spec's promotion repository is asked for the commit the version
names (a tag, branch or sha) and its committer time. What the deploy says wins over git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rollgate.errors import UsageError
from rollgate.moments import parse_utc
from rollgate.runs import git
from rollgate.spec.models import Spec
from rollgate.store.db import Database
from rollgate.store.tables import Release, Run

PARAM = "commit"  # the run parameter: {"sha": str | None, "committed_at": ISO | None}
_SHA = re.compile(r"[0-9a-fA-F]{4,64}")


@dataclass(frozen=True)
class Commit:
    """A release's commit: its sha and committer time, each None when unknown."""

    sha: str | None = None
    at: datetime | None = None


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2025-01-04T14:30:00+02:00``; without a zone it is UTC), in UTC."""
    try:
        return parse_utc(text.strip())
    except ValueError:
        raise UsageError(f"--committed-at {text!r} is not an ISO 8601 time; give one such "
                         "as 2025-01-04T14:30:00Z (git: `git show -s --format=%cI SHA`)") from None


def deploy_params(sha: str | None, committed_at: str | None) -> dict[str, Any]:
    """The run parameters of ``--commit`` and ``--committed-at`` (empty when neither)."""
    if sha is None and committed_at is None:
        return {}
    if sha is not None and not _SHA.fullmatch(sha.strip()):
        raise UsageError(f"--commit {sha!r} is not a commit sha; give 4 to 64 hex digits "
                         "(`git rev-parse HEAD`)")
    at = parse_time(committed_at) if committed_at is not None else None
    return {PARAM: {"sha": sha.strip().lower() if sha else None,
                    "committed_at": at.isoformat() if at else None}}


def explicit(params: dict[str, Any] | None) -> Commit:
    """What the deploy said about its commit (nothing when it said nothing)."""
    given = (params or {}).get(PARAM) or {}
    at = given.get("committed_at")
    return Commit(given.get("sha"), datetime.fromisoformat(at) if at else None)


def from_git(repo: Path, ref: str) -> Commit:
    """The commit ``ref`` names in ``repo`` and its committer time; nothing when git does not
    know it (no repository, not a ref, git missing)."""
    try:
        found = git.committed(repo, ref)
    except git.GitError:
        return Commit()
    if found is None:
        return Commit()
    return Commit(found[0], found[1].astimezone(UTC))


def of_release(db: Database, spec: Spec, spec_dir: Path, run: Run) -> Commit:
    """The commit to record with the release ``run`` deploys; nothing to look up (and git is
    not asked) when the release already has its commit time."""
    with db.read() as s:
        known = s.scalar(select(Release.committed_at).where(Release.service == run.service,
                                                            Release.version == run.version))
    if known is not None:
        return Commit()
    said = explicit(run.params)
    if said.sha is not None and said.at is not None:
        return said
    repo = spec.promotion.repo
    if repo is None:
        return said
    found = from_git(spec_dir / repo, said.sha or run.version)
    return Commit(said.sha or found.sha, said.at or found.at)
