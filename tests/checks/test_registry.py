"""The check registry: kinds, the spec's ``checks:`` union, plugins, and run_check."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind, kind_of, kinds, load_failures
from rollgate.errors import SpecError
from rollgate.spec.loader import parse_spec
from rollgate.spec.schema import json_schema
from tests.checks.helpers import spec_dict, yaml_text

BUILTIN = ["http", "command", "database", "env", "error_budget", "flags", "headers", "latency",
           "smoke", "tls"]
ROOT = Path(__file__).resolve().parents[2]


def test_builtin_kinds_are_registered_http_and_command_first() -> None:
    registered = list(kinds())
    assert registered[:2] == ["http", "command"]
    assert set(BUILTIN) <= set(registered)
    assert load_failures() == {}


def test_the_spec_union_and_schema_hold_every_kind() -> None:
    schema = json_schema()
    checks = next(iter(schema["properties"]["checks"]["patternProperties"].values()))
    listed = {ref["$ref"].rsplit("/", 1)[1] for ref in checks["oneOf"]}
    assert listed == {kind.model.__name__ for kind in kinds().values()}
    assert checks["discriminator"]["propertyName"] == "kind"


def test_an_unknown_kind_lists_the_kinds() -> None:
    text = yaml_text(spec_dict(checks={"home": {"kind": "htp"}}))
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "rollgate.yaml")
    line = text.splitlines().index("    kind: htp") + 1
    assert caught.value.problems == [
        f"rollgate.yaml:{line}: checks.home.kind: must be one of {', '.join(kinds())}"
    ]


def test_a_wrong_value_names_the_line_and_the_field() -> None:
    text = yaml_text(spec_dict(checks={"cert": {"kind": "tls", "host": "example.com",
                                                "warn_days": "soon"}}))
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "rollgate.yaml")
    line = text.splitlines().index("    warn_days: soon") + 1
    assert caught.value.problems == [
        f"rollgate.yaml:{line}: checks.cert.warn_days: must be an integer (got 'soon')"
    ]


def test_a_second_kind_of_the_same_name_is_refused() -> None:
    class AnotherHttp(CheckConfig):
        """Clashes with the built-in http."""

        kind: Literal["http"] = Field(description="selects this check")

    with pytest.raises(ValueError, match="check kind 'http' is registered twice: by "
                                         r"rollgate\.checks\.kinds\.http and by tests\."):
        @check_kind(AnotherHttp)
        def run(check: AnotherHttp, ctx: CheckContext) -> CheckResult:
            raise AssertionError("never registered")
    assert kinds()["http"].origin == "rollgate.checks.kinds.http"


def test_a_kind_must_be_a_literal() -> None:
    class Loose(CheckConfig):
        """Its kind is any string."""

        kind: str = Field(description="selects this check")

    with pytest.raises(TypeError, match=r"Loose\.kind must be declared as Literal"):
        kind_of(Loose)


def test_results_pass_warn_or_fail_and_strict_mode_fails_warnings() -> None:
    passed, warned = CheckResult("a", True, "", 1), CheckResult("a", True, "", 1, warning=True)
    failed = CheckResult("a", False, "", 1)
    assert [r.status for r in (passed, warned, failed)] == ["pass", "warning", "fail"]
    assert [r.strict().status for r in (passed, warned, failed)] == ["pass", "fail", "fail"]


PLUGIN = '''
"""A third-party check kind: the whole of it is this one module."""

from typing import Literal

from pydantic import Field

from rollgate.checks import CheckConfig, CheckContext, CheckResult, check_kind


class SlaCheck(CheckConfig):
    """The service's SLA page says it is met."""

    kind: Literal["sla"] = Field(description="selects this check")
    target: float = Field(99.5, description="SLA in percent")


@check_kind(SlaCheck)
def run(check: SlaCheck, ctx: CheckContext) -> CheckResult:
    """Pass when the target is reachable."""
    return ctx.passed(f"{ctx.service} in {ctx.environment}: SLA {check.target}% met")
'''

SCRIPT = '''
import json, sys
from pathlib import Path
from rollgate.checks import CheckContext, run_check
from rollgate.checks.registry import load_failures
from rollgate.spec.loader import parse_spec
from rollgate.errors import SpecError

spec = parse_spec(sys.argv[1], "rollgate.yaml")
result = run_check(spec.checks["sla"], CheckContext(name="sla", spec=spec, spec_dir=Path("."),
                                                     environment="production", service="web"))
try:
    parse_spec(sys.argv[1].replace("target: 99.9", "target: high"), "rollgate.yaml")
except SpecError as exc:
    problems = exc.problems
print(json.dumps({"detail": result.detail, "ok": result.ok, "problems": problems,
                  "failures": load_failures()}))
'''


def test_a_plugin_package_adds_a_kind_through_its_entry_point(tmp_path: Path) -> None:
    (tmp_path / "rollgate_sla.py").write_text(PLUGIN)
    (tmp_path / "rollgate_broken.py").write_text("raise ImportError('needs libfoo')\n")
    for name in ("rollgate_sla", "rollgate_broken"):
        info = tmp_path / f"{name}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[rollgate.checks]\n{name[9:]} = {name}\n")
    text = yaml_text(spec_dict(checks={"sla": {"kind": "sla", "target": 99.9}}))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), text],
                          env={"PYTHONPATH": f"{tmp_path}:{ROOT / 'src'}", "PATH": "/usr/bin"},
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["ok"], out["detail"]) == (True, "web in production: SLA 99.9% met")
    line = text.splitlines().index("    target: 99.9") + 1
    assert out["problems"] == [f"rollgate.yaml:{line}: checks.sla.target: must be a number "
                               "(got 'high')"]
    assert out["failures"] == {"broken": "ImportError: needs libfoo"}
