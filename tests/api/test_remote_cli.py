"""The CLI against a server: `rollgate login`, then run commands with --server and a token."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from ruamel.yaml import YAML

from rollgate.testing import Sandbox
from tests.api.conftest import ApiServer, write_spec


class Person:
    """One user of the CLI, with a config folder of their own (where login keeps tokens)."""

    def __init__(self, box: Sandbox, server: ApiServer, name: str) -> None:
        self.box, self.server, self.name = box, server, name
        self.home = box.root / f"home-{name}"

    def run(self, *args: str, stdin: str | None = None, token: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        env = {**self.box.env, "XDG_CONFIG_HOME": str(self.home),
               "ROLLGATE_SERVER": self.server.url}
        if token:
            env["ROLLGATE_TOKEN"] = token
        return subprocess.run(self.box.argv(*args), env=env, cwd=self.box.root, text=True,
                              capture_output=True, input=stdin, timeout=120, check=False)

    def login(self, password: str) -> subprocess.CompletedProcess[str]:
        return self.run("login", "--user", self.name, "--password-stdin", stdin=password + "\n")


@pytest.fixture
def team(sandbox: Sandbox) -> Iterator[dict[str, Any]]:
    """A server with a deployer (ana) and a viewer (vic) on production."""
    write_spec(sandbox)
    for name, role in (("ana", "deployer"), ("vic", "viewer")):
        added = sandbox.run("users", "add", name, "--role", role, "--env", "production",
                            "--password-stdin", input_text=f"{name}-pass-1234\n")
        assert added.returncode == 0, added.stdout + added.stderr
    server = ApiServer(sandbox)
    server.start()
    try:
        yield {"server": server, "ana": Person(sandbox, server, "ana"),
               "vic": Person(sandbox, server, "vic")}
    finally:
        server.http.headers["Authorization"] = ""
        server.stop()


def test_login_then_deploy_and_roll_back_through_the_server(team: dict[str, Any]) -> None:
    ana, vic = team["ana"], team["vic"]
    assert ana.run("history").returncode == 3  # not logged in: 401, says how to log in
    logged = ana.login("ana-pass-1234")
    assert logged.returncode == 0, logged.stdout + logged.stderr
    saved = ana.home / "rollgate" / "credentials.json"
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    token = json.loads(saved.read_text())[team["server"].url]["token"]
    assert token.startswith("rg_") and token not in logged.stdout + logged.stderr

    me = json.loads(ana.run("whoami", "--json").stdout)
    assert me["name"] == "ana" and me["via"] == "token"
    first = ana.run("deploy", "web", "--env", "production", "--version", "v1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "v1 is live" in first.stdout
    history = json.loads(ana.run("history", "--json").stdout)
    assert (history[0]["version"], history[0]["actor"]) == ("v1", "ana")

    assert vic.login("vic-pass-1234").returncode == 0
    refused = vic.run("deploy", "web", "--env", "production", "--version", "v2")
    assert refused.returncode == 3
    assert "deployer" in refused.stderr
    assert json.loads(vic.run("status", "--json").stdout)[0]["live"] == "v1"

    out = ana.run("logout")
    assert out.returncode == 0, out.stderr
    assert ana.run("history").returncode == 3  # forgotten here
    revoked = ana.run("history", token=token)
    assert revoked.returncode == 3  # and revoked on the server
    assert "revoked" in revoked.stderr or "invalid" in revoked.stderr


def test_a_checklist_is_confirmed_through_the_server_as_the_signed_in_user(
        team: dict[str, Any], sandbox: Sandbox) -> None:
    spec = YAML(typ="safe").load(sandbox.spec_path.read_text())
    spec["checklists"] = {"pre-deploy": [{"manual": "Release notes written", "id": "notes"}]}
    sandbox.write_spec(spec)
    ana, vic = team["ana"], team["vic"]
    assert ana.login("ana-pass-1234").returncode == 0
    assert vic.login("vic-pass-1234").returncode == 0
    pending = vic.run("checklist", "--env", "production", "--version", "v3", "--json")
    assert pending.returncode == 1
    assert json.loads(pending.stdout)["items"][0]["status"] == "pending"
    refused = vic.run("checklist", "--env", "production", "--version", "v3",
                      "--confirm", "notes")
    assert refused.returncode == 3 and "needs deployer on production" in refused.stderr
    done = ana.run("checklist", "--env", "production", "--version", "v3", "--prompt",
                   stdin="y\nin the wiki\n")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(vic.run("checklist", "--env", "production", "--version", "v3",
                                "--json").stdout)
    item = result["items"][0]
    assert (item["status"], item["by"]) == ("confirmed", "ana")
    assert "in the wiki" in item["detail"]
