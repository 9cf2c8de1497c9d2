"""Building specs, contexts and checks the way the engine does, for the check tests."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from ruamel.yaml import YAML

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import run_check
from rollgate.spec.checks import Check
from rollgate.spec.models import Spec

SECRET = "s3cr3t-value-9f8e7d6c"
_CHECK: TypeAdapter[CheckConfig] = TypeAdapter(Check)


def spec_dict(**extra: Any) -> dict[str, Any]:
    """A small valid spec (one service, staging and production) with ``extra`` keys."""
    return {
        "project": "shop",
        "services": {"web": {"command": "true", "port": 8000}},
        "environments": {"staging": {}, "production": {}},
        **extra,
    }


def make_spec(**extra: Any) -> Spec:
    """``spec_dict(**extra)`` validated."""
    return Spec.model_validate(spec_dict(**extra))


def context(
    *, spec: Spec | None = None, spec_dir: Path | None = None, environment: str = "production",
    name: str = "probe", **fields: Any,
) -> CheckContext:
    """A context for one check run, rollgate's environment emptied unless given."""
    fields.setdefault("environ", {})
    return CheckContext(name=name, spec=spec or make_spec(), spec_dir=spec_dir or Path("."),
                        environment=environment, service="web", **fields)


def check(config: dict[str, Any]) -> CheckConfig:
    """A check config validated through the spec's ``checks:`` union."""
    return _CHECK.validate_python(config)


def run(config: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """Validate ``config`` like the spec does and run it like the engine does."""
    return run_check(check(config), ctx)


def yaml_text(data: dict[str, Any]) -> str:
    """``data`` as block-style YAML."""
    out = io.StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(data, out)
    return out.getvalue()
