"""``kind: headers``: security headers on a response (seed 003's ``curl -I | grep``)."""

from __future__ import annotations

import re
from typing import Literal

import httpx
from pydantic import Field

from rollgate.checks.base import CheckConfig, CheckResult, transport_error
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.spec.durations import Duration, format_duration

HSTS = "strict-transport-security"
_MAX_AGE = re.compile(r"""max-age\s*=\s*"?(\d+)"?""", re.IGNORECASE)


class HeadersCheck(CheckConfig):
    """Security headers present on a GET of a path, and HSTS long enough."""

    kind: Literal["headers"] = Field(description="selects this check")
    path: str = Field("/", description="path requested")
    base_url: str | None = Field(
        None, description="URL to request instead of the service's public URL, e.g. "
        "https://api.example.com"
    )
    require: list[str] = Field(
        default_factory=lambda: [
            "Strict-Transport-Security",
            "Content-Security-Policy",
            "X-Frame-Options",
            "X-Content-Type-Options",
        ],
        description="headers that must be present",
    )
    expect: dict[str, str] = Field(
        default_factory=dict,
        description="text a header's value must contain (case-insensitive), e.g. "
        "{X-Content-Type-Options: nosniff}",
    )
    hsts_min_age: Duration | None = Field(
        180 * 86400.0,
        description="least max-age of Strict-Transport-Security, when it is present; "
        "null: any",
    )
    expect_status: int | None = Field(
        200, ge=100, le=599, description="expected HTTP status; null: any"
    )
    timeout: Duration = Field(5.0, gt=0, description="timeout of the request")


@check_kind(HeadersCheck)
def run_headers(check: HeadersCheck, ctx: CheckContext) -> CheckResult:
    """GET the path and compare its headers with the expectations."""
    where = f"GET {check.path}"
    try:
        response = httpx.get(ctx.url(check.path, check.base_url), timeout=check.timeout)
    except httpx.HTTPError as exc:
        return ctx.failed(f"{where}: {transport_error(exc)}")
    seen = f"{where}: HTTP {response.status_code}"
    problems = []
    if check.expect_status is not None and response.status_code != check.expect_status:
        problems.append(f"expected HTTP {check.expect_status}")
    missing = [name for name in check.require if name not in response.headers]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    for name, text in check.expect.items():
        value = response.headers.get(name)
        if value is not None and text.lower() not in value.lower():
            problems.append(f"{name} is {value!r}, expected it to contain {text!r}")
        elif value is None and name not in missing:
            problems.append(f"missing {name}")
    problems += _hsts(response.headers.get(HSTS), check.hsts_min_age)
    if problems:
        return ctx.failed(f"{seen}, " + "; ".join(problems))
    return ctx.passed(f"{seen}, {len(set(check.require) | set(check.expect))} headers as "
                      "expected")


def _hsts(value: str | None, min_age: float | None) -> list[str]:
    """What is wrong with a Strict-Transport-Security value (nothing when absent)."""
    if value is None or min_age is None:
        return []
    match = _MAX_AGE.search(value)
    if match is None:
        return ["Strict-Transport-Security has no max-age"]
    age = int(match.group(1))
    if age < min_age:
        return [f"Strict-Transport-Security max-age is {format_duration(age)}, "
                f"expected at least {format_duration(min_age)}"]
    return []
