"""The JSON Schema of rollgate.yaml and the reference generated from it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from rollgate.spec.schema import DIALECT, json_schema

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    """Import scripts/gen_spec_reference.py, which is not a package module."""
    path = ROOT / "scripts" / "gen_spec_reference.py"
    spec = importlib.util.spec_from_file_location("gen_spec_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_schema_header_and_defaults() -> None:
    schema = json_schema()
    assert schema["$schema"] == DIALECT
    assert schema["title"] == "rollgate.yaml"
    assert set(schema["required"]) == {"project", "services", "environments"}
    health = schema["$defs"]["HealthCheck"]["properties"]
    assert health["timeout"]["default"] == "2s"
    environment = schema["$defs"]["Environment"]["properties"]
    assert environment["strategy"]["default"] == {"kind": "recreate"}


def test_spec_reference_is_up_to_date() -> None:
    generator = load_generator()
    expected = generator.render(json_schema())
    current = (ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    assert current == expected, "run: PYTHONPATH=src python scripts/gen_spec_reference.py"
