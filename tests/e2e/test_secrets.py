"""Secrets stay out of step output, errors, the stored spec snapshot and the CLI's JSON."""

from __future__ import annotations

import os

from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup

TOKEN = "tok-4f1c9e7a-very-secret"


def test_secret_values_are_masked_everywhere(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"}, env={"API_TOKEN": "${DEMO_API_TOKEN}"},
          checks=["leaky"])
    spec = sandbox.spec_path.read_text().replace(
        "environments:",
        "checks:\n  leaky:\n    kind: command\n"
        "    run: 'echo sending token=$API_TOKEN; exit 1'\nenvironments:")
    sandbox.spec_path.write_text(spec)
    os.environ["DEMO_API_TOKEN"] = TOKEN
    try:
        proc = deploy(sandbox, "v1")
    finally:
        del os.environ["DEMO_API_TOKEN"]
    assert proc.returncode == 1
    assert TOKEN not in proc.stdout + proc.stderr
    assert "token=********" in proc.stdout

    shown = sandbox.run("runs", "show", sandbox.latest_run("v1"), "--json")
    assert TOKEN not in shown.stdout
    assert "token=********" in shown.stdout
    with sandbox.store().engine.connect() as conn:
        for table in ("runs", "steps", "audit_events"):
            dump = repr(conn.exec_driver_sql(f"SELECT * FROM {table}").fetchall())
            assert TOKEN not in dump, table


def test_missing_secret_reference_is_a_clear_error(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"}, env={"API_TOKEN": "${NOT_SET_ANYWHERE}"})
    proc = deploy(sandbox, "v1")
    assert proc.returncode == 1
    assert "refers to ${NOT_SET_ANYWHERE}, which is not set" in proc.stdout


def test_validate_warns_about_literal_secrets(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"}, env={"DB_PASSWORD": "hunter22"})
    proc = sandbox.run("validate")
    assert proc.returncode == 0
    assert "services.web.env.DB_PASSWORD looks like a secret" in proc.stderr
    assert "hunter22" not in proc.stderr
