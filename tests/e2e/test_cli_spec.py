"""The CLI on bad specs: file:line, the field path, exit 2; init writes a spec that validates."""

from __future__ import annotations

import json

import pytest

from rollgate.testing import Sandbox

GOOD = """\
project: shop
services:
  web:
    command: "{python} -m rollgate.demo serve --port {port} --version {version}"
    port: 8080
environments:
  production:
    strategy:
      kind: blue-green
"""

CASES = {
    "wrong-type": (GOOD.replace("port: 8080", "port: eighty"),
                   "rollgate.yaml:5: services.web.port: "),
    "unknown-key": (GOOD.replace("    port: 8080", "    port: 8080\n    replica: 2"),
                    "rollgate.yaml:6: services.web.replica: unknown key"),
    "missing-field": (GOOD.replace('    command: "{python} -m rollgate.demo serve --port {port}'
                                   ' --version {version}"\n', ""),
                      "rollgate.yaml:3: services.web.command: "),
    "bad-yaml": (GOOD.replace("  production:", "  production: [oops"),
                 "rollgate.yaml:"),
    "bad-strategy": (GOOD.replace("kind: blue-green", "kind: blue-grene"),
                     "rollgate.yaml:9: environments.production.strategy.kind: must be one of "
                     "recreate, rolling, blue-green, canary"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_names_file_line_and_field(sandbox: Sandbox, case: str) -> None:
    text, expected = CASES[case]
    sandbox.spec_path.write_text(text)
    proc = sandbox.run("validate")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: {expected}"), proc.stderr
    # A command that needs the spec refuses the same way and touches nothing.
    deploy = sandbox.run("deploy", "web", "--env", "production", "--version", "v1")
    assert deploy.returncode == 2
    assert expected in deploy.stderr
    assert not (sandbox.state_dir / "rollgate.db").exists()


def test_bad_yaml_says_invalid_yaml(sandbox: Sandbox) -> None:
    sandbox.spec_path.write_text(CASES["bad-yaml"][0])
    proc = sandbox.run("validate")
    assert "invalid YAML" in proc.stderr


def test_init_writes_a_valid_commented_spec(sandbox: Sandbox) -> None:
    sandbox.spec_path.unlink(missing_ok=True)
    assert sandbox.run("init", "--project", "shop").returncode == 0
    assert "#" in sandbox.spec_path.read_text()
    ok = sandbox.run("validate", "--json")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["project"] == "shop"
    again = sandbox.run("init")
    assert again.returncode == 3
    assert "already exists" in again.stderr


def test_schema_is_json_schema(sandbox: Sandbox) -> None:
    proc = sandbox.run("schema")
    schema = json.loads(proc.stdout)
    assert schema["type"] == "object"
    assert {"project", "services", "environments"} <= set(schema["required"])
