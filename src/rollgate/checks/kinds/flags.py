"""``kind: flags``: feature flags hold the values expected in each environment.

Seed 000's production checklist: "feature flags: ensure defaults are safe (Stripe/Infobip/
VOIP off unless intended)". Flags are read from a URL answering JSON or from a JSON or
YAML file; ``{environment}`` in either is replaced by the environment checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from rollgate.checks.base import CheckConfig, CheckResult, json_at, transport_error
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.errors import UsageError
from rollgate.spec.base import Name
from rollgate.spec.durations import Duration

FlagValue = bool | int | float | str | None


class FlagsCheck(CheckConfig):
    """Feature flags compared with the values expected per environment."""

    kind: Literal["flags"] = Field(description="selects this check")
    url: str | None = Field(
        None,
        description="URL answering the flags as JSON; a path (/api/flags) is on the "
        "service's public URL; {environment} is replaced by the environment checked",
    )
    file: str | None = Field(
        None, description="JSON or YAML file holding the flags, relative to the spec; "
        "{environment} is replaced, e.g. flags/{environment}.yaml"
    )
    at: str | None = Field(
        None, description="dotted path to the flags inside the document, e.g. data.flags"
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="request headers with `url`; write tokens as ${NAME} references",
    )
    expect: dict[Name, dict[str, FlagValue]] = Field(
        min_length=1,
        description="flag values expected per environment, e.g. "
        "{production: {new_checkout: false}}",
    )
    timeout: Duration = Field(5.0, gt=0, description="timeout of the request")

    @model_validator(mode="after")
    def _one_source(self) -> FlagsCheck:
        if (self.url is None) == (self.file is None):
            raise PydanticCustomError("flags_source", "give exactly one of url or file")
        return self


@check_kind(FlagsCheck)
def run_flags(check: FlagsCheck, ctx: CheckContext) -> CheckResult:
    """Read the flags and list those that differ from the environment's expectations."""
    expected = check.expect.get(ctx.environment)
    if expected is None:
        return ctx.warned(f"no flags expected in {ctx.environment} (expect has: "
                          f"{', '.join(check.expect)})")
    source, document = _read(check, ctx)
    found, flags = json_at(document, check.at) if check.at else (True, document)
    if not found or not isinstance(flags, dict):
        where = f" at {check.at}" if check.at else ""
        return ctx.failed(f"{source}: no mapping of flags{where}")
    differ = []
    for name, want in expected.items():
        if name not in flags:
            differ.append(f"{name} missing (expected {_show(want)})")
        elif not _same(flags[name], want):
            differ.append(f"{name} is {_show(flags[name])} (expected {_show(want)})")
    if differ:
        return ctx.failed(f"{source}: {len(differ)} of {len(expected)} flags differ in "
                          f"{ctx.environment}: " + "; ".join(differ))
    return ctx.passed(f"{source}: {len(expected)} flags as expected in {ctx.environment}")


def _read(check: FlagsCheck, ctx: CheckContext) -> tuple[str, Any]:
    """(where the flags came from, the parsed document)."""
    if check.url is not None:
        url = check.url.replace("{environment}", ctx.environment)
        if url.startswith("/"):
            url = ctx.url(url)
        headers = {key: ctx.fill(value, f"headers.{key}") for key, value in check.headers.items()}
        try:
            response = httpx.get(url, headers=headers, timeout=check.timeout)
        except httpx.HTTPError as exc:
            raise UsageError(f"GET {check.url}: {transport_error(exc)}") from None
        if response.status_code != 200:
            raise UsageError(f"GET {check.url}: HTTP {response.status_code}, expected 200")
        try:
            return f"GET {check.url}", response.json()
        except ValueError:
            raise UsageError(f"GET {check.url}: the body is not JSON") from None
    assert check.file is not None
    name = check.file.replace("{environment}", ctx.environment)
    path = Path(name) if Path(name).is_absolute() else ctx.spec_dir / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from None
    try:
        return name, YAML(typ="safe").load(text)  # JSON is YAML too
    except YAMLError as exc:
        raise UsageError(f"{name} is not JSON or YAML: {exc}") from None


def _same(actual: Any, expected: FlagValue) -> bool:
    """Equal, with true never equal to 1 (YAML and JSON tell them apart, Python does not)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def _show(value: Any) -> str:
    """A flag value as JSON writes it; a nested value only by its shape."""
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return json.dumps(value)
