"""The git a promotion needs: resolve a version, release notes between two versions, tags.

Every call is ``git -C REPO ...`` with a timeout; nothing here raises for a version that
is not a git ref: callers say so in the output instead.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

TIMEOUT = 30.0
MAX_NOTES = 200  # commits listed in release notes


class GitError(Exception):
    """A git command failed: the message says which and why."""


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; its stdout, or GitError with its stderr."""
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=TIMEOUT, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took more than {TIMEOUT:g}s") from None
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def commit_of(repo: Path, ref: str) -> str | None:
    """The commit a version names (tag, branch or sha), or None when it names none."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except GitError:
        return None


def committed(repo: Path, ref: str) -> tuple[str, datetime] | None:
    """The sha and committer time of the commit ``ref`` names, or None when it names none."""
    commit = commit_of(repo, ref)
    if commit is None:
        return None
    sha, _, when = git(repo, "show", "-s", "--format=%H%x00%cI", commit).strip().partition("\0")
    return sha, datetime.fromisoformat(when)


def release_notes(repo: Path, service: str, live: str | None, version: str) -> str:
    """Markdown notes: the commits from ``live`` (exclusive) to ``version``."""
    head = f"# {service} {version}\n\n"
    new = commit_of(repo, version)
    if new is None:
        return head + f"No notes: {version} is not a git tag, branch or commit in {repo}.\n"
    old = commit_of(repo, live) if live else None
    span = f"{old}..{new}" if old else new
    log = git(repo, "log", "--no-merges", f"--max-count={MAX_NOTES}",
              "--format=- %h %s (%an)", span).strip()
    since = f"Changes since {live}" if old else (
        f"Changes (nothing before it was live, or {live} is not in git)" if live
        else "Changes (first release)")
    return head + f"{since}:\n\n{log or '- no new commits'}\n"


def tag(repo: Path, name: str, version: str, message: str) -> str:
    """Create an annotated tag ``name`` on ``version``'s commit; say what happened.

    An existing tag on the same commit is kept; on another commit it is left alone and
    the answer says so (tags are never moved).
    """
    commit = commit_of(repo, version)
    if commit is None:
        return f"no tag: {version} is not a git tag, branch or commit in {repo}"
    existing = commit_of(repo, name)
    if existing == commit:
        return f"tag {name} already on {commit[:12]}"
    if existing is not None:
        return f"tag {name} left alone: it is on {existing[:12]}, not {commit[:12]}"
    git(repo, "tag", "-a", name, commit, "-m", message)
    return f"tagged {commit[:12]} as {name}"


def push_tag(repo: Path, remote: str, name: str) -> str:
    """Push one tag to a remote."""
    git(repo, "push", remote, f"refs/tags/{name}")
    return f"pushed {name} to {remote}"
