"""``kind: http``: one request against the service's public URL, with expectations."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field

from rollgate.checks.base import CheckConfig, CheckResult, judge_response
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.spec.durations import Duration


class HttpCheck(CheckConfig):
    """An HTTP request against the public port, with expectations."""

    kind: Literal["http"] = Field(description="selects this check")
    path: str = Field("/", description="path requested on the public port")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(
        "GET", description="HTTP method"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="request headers")
    body: Any = Field(None, description="request body")
    expect_status: int = Field(200, ge=100, le=599, description="expected HTTP status")
    expect_json: dict[str, Any] | None = Field(
        None, description="a JSON subset the body must contain"
    )
    expect_text: str | None = Field(None, description="a substring the body must contain")
    timeout: Duration = Field(5.0, description="timeout of the request")


@check_kind(HttpCheck)
def run_http(check: HttpCheck, ctx: CheckContext) -> CheckResult:
    """Send the request and judge the response."""
    where = f"{check.method} {check.path}"
    try:
        response = httpx.request(
            check.method,
            ctx.url(check.path),
            headers=check.headers,
            json=check.body,
            timeout=check.timeout,
        )
    except httpx.HTTPError as exc:
        return ctx.failed(f"{where}: {type(exc).__name__}")
    ok, seen = judge_response(
        response,
        expect_status=check.expect_status,
        expect_json=check.expect_json,
        expect_text=check.expect_text,
    )
    return ctx.result(ok, f"{where}: {seen}")
