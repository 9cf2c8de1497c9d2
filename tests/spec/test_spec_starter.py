"""The starter rollgate.yaml written by ``rollgate init``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollgate.errors import UsageError
from rollgate.spec.loader import load_spec
from rollgate.spec.starter import starter_spec


def test_starter_spec_loads(tmp_path: Path) -> None:
    path = tmp_path / "rollgate.yaml"
    path.write_text(starter_spec("shop"), encoding="utf-8")
    spec = load_spec(path)
    assert spec.project == "shop"
    web = spec.services["web"]
    assert web.command == "{python} -m rollgate.demo serve --port {port} --version {version}"
    assert web.port == 8080
    assert web.health.path == "/health"
    assert web.health.expect_json == {"status": "ok"}
    assert spec.public_port("web", "staging") == 8081
    assert spec.environments["staging"].strategy.kind == "recreate"
    production = spec.environments["production"]
    assert production.strategy.kind == "blue-green"
    assert production.strategy.keep_warm == 600.0
    assert production.checks == ["home"]
    assert spec.checks["home"].kind == "http"


def test_starter_documents_the_placeholders() -> None:
    text = starter_spec("shop")
    for placeholder in ("{python}", "{port}", "{version}"):
        assert f"#   {placeholder}" in text


def test_starter_rejects_a_bad_project_name() -> None:
    with pytest.raises(UsageError, match="invalid project name 'My App'"):
        starter_spec("My App")
