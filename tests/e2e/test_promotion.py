"""`rollgate promote`: the release that passed staging, release notes and tags from git."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _repo(root: Path) -> Path:
    """A repository with v1.0.0 and v1.1.0 tagged, two commits apart."""
    repo = root / "code"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    for message, tag in (("Initial checkout", "v1.0.0"), ("Fix tax rounding", None),
                         ("Add gift cards", "v1.1.0"), ("Unreleased work", None)):
        (repo / "log.txt").write_text(message)
        _git(repo, "add", ".")
        _git(repo, "commit", "-q", "-m", message)
        if tag:
            _git(repo, "tag", tag)
    return repo


def test_promotion_deploys_what_passed_staging_with_notes_and_tags(sandbox: Sandbox) -> None:
    repo = _repo(sandbox.root)
    ports = {"staging": free_port(), "production": free_port()}
    service = demo_service(ports["staging"], sandbox.faults_path)
    sandbox.write_spec({
        "project": "shop", "services": {"web": service},
        "environments": {"staging": {"ports": {"web": ports["staging"]}},
                         "production": {"ports": {"web": ports["production"]}}},
        "promotion": {"repo": "code",
                      "tags": {"staging": "{version}-rc", "production": "{version}-prod"}},
    })
    refused = sandbox.run("promote", "web", "--from", "staging", "--to", "production")
    assert refused.returncode == 3 and "nothing to promote" in refused.stderr

    for version in ("v1.0.0", "v1.1.0"):
        done = sandbox.run("deploy", "web", "--env", "staging", "--version", version)
        assert done.returncode == 0, done.stdout + done.stderr
    assert _git(repo, "rev-parse", "v1.1.0-rc^{commit}") == _git(repo, "rev-parse",
                                                                  "v1.1.0^{commit}")
    untested = sandbox.run("promote", "web", "--from", "staging", "--to", "production",
                           "--version", "v1.2.0")
    assert untested.returncode == 3
    assert "web v1.2.0 has not passed staging" in " ".join(untested.stderr.split())

    first = sandbox.run("promote", "web", "--from", "staging", "--to", "production",
                        "--version", "v1.0.0")
    assert first.returncode == 0, first.stdout + first.stderr
    promoted = sandbox.run("promote", "web", "--from", "staging", "--to", "production",
                           "--json")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    run = json.loads(promoted.stdout)
    assert (run["version"], run["from_version"]) == ("v1.1.0", "v1.0.0")
    assert run["params"]["promotion"]["from"] == "staging"
    notes = run["release_notes"]
    assert notes.startswith("# web v1.1.0\n\nChanges since v1.0.0:")
    assert "Fix tax rounding (Dev)" in notes and "Add gift cards (Dev)" in notes
    assert "Initial checkout" not in notes and "Unreleased work" not in notes
    tag_step = run["steps"][-1]
    assert tag_step["name"] == "tag v1.1.0-prod in git"
    assert "as v1.1.0-prod" in tag_step["output"]
    assert _git(repo, "tag", "--list", "v1.1.0-prod") == "v1.1.0-prod"
    message = _git(repo, "tag", "-n1", "--list", "v1.1.0-prod")
    assert "web v1.1.0 live in production" in message
    version = httpx.get(f"http://127.0.0.1:{ports['production']}/version").json()["version"]
    assert version == "v1.1.0"


def test_an_emergency_promotion_of_an_untested_release_is_recorded(sandbox: Sandbox) -> None:
    port = free_port()
    sandbox.write_spec({
        "project": "shop", "services": {"web": demo_service(port, sandbox.faults_path)},
        "environments": {"staging": {"ports": {"web": free_port()}}, "production": {}},
        "promotion": {"repo": None},
    })
    no_reason = sandbox.run("promote", "web", "--from", "staging", "--to", "production",
                            "--version", "v9", "--emergency")
    assert no_reason.returncode == 2
    forced = sandbox.run("promote", "web", "--from", "staging", "--to", "production",
                         "--version", "v9", "--emergency", "--reason", "hotfix for outage")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "No notes: the spec names no git repository." in forced.stdout
    run = sandbox.json("runs", "show", sandbox.latest_run("v9"))
    assert run["reason"] == "hotfix for outage"
    assert run["params"]["promotion"] == {"from": "staging", "passed_run": None}
