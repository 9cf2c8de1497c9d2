"""``kind: smoke``: a scenario of HTTP requests passing captured values along.

Seed 000's post-deploy smoke: log in, take the token, list users with it::

    kind: smoke
    steps:
      - path: /auth/login
        method: POST
        body: {email: owner@acme.tld, password: "${SMOKE_PASSWORD}"}
        capture: {token: data.token}
      - path: /users
        headers: {Authorization: "Bearer {token}"}

``{name}`` is a value captured by an earlier step, ``${NAME}`` a variable of the service's
environment (write ``{{`` and ``}}`` for literal braces). Both are secrets: they never
appear in the output, and response bodies are not quoted. Steps share cookies.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from rollgate.checks.base import CheckConfig, CheckResult, json_at, judge_response
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.redact import redact
from rollgate.spec.base import Model
from rollgate.spec.durations import Duration

_TOKEN = re.compile(r"\$\{([A-Za-z_]\w*)\}|\{\{|\}\}|\{([A-Za-z_]\w*)\}")
CaptureName = Annotated[str, Field(pattern=r"^[A-Za-z_]\w*$")]


class SmokeStep(Model):
    """One request of a smoke scenario and what its response must be."""

    name: str | None = Field(None, description="label in the output; default: METHOD path")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(
        "GET", description="HTTP method"
    )
    path: str = Field(description="path on the service's URL; may use {captured} values")
    headers: dict[str, str] = Field(
        default_factory=dict, description="request headers, e.g. {Authorization: Bearer {token}}"
    )
    body: Any = Field(None, description="JSON body; strings in it may use {captured} and ${NAME}")
    expect_status: int = Field(200, ge=100, le=599, description="expected HTTP status")
    expect_json: dict[str, Any] | None = Field(
        None, description="a JSON subset the body must contain"
    )
    expect_text: str | None = Field(None, description="a substring the body must contain")
    capture: dict[CaptureName, str] = Field(
        default_factory=dict,
        description="values to take from the JSON response for later steps: name: dotted "
        "path, e.g. {token: data.token}",
    )


class SmokeCheck(CheckConfig):
    """A scenario: requests in order, each one's expectations met, values passed along."""

    kind: Literal["smoke"] = Field(description="selects this check")
    base_url: str | None = Field(
        None, description="URL to request instead of the service's public URL"
    )
    steps: list[SmokeStep] = Field(min_length=1, description="the requests, in order")
    timeout: Duration = Field(10.0, gt=0, description="timeout of each request")

    @model_validator(mode="after")
    def _captured_before_use(self) -> SmokeCheck:
        known: set[str] = set()
        for i, step in enumerate(self.steps):
            for text in _strings([step.path, step.headers, step.body]):
                for match in _TOKEN.finditer(text):
                    name = match.group(2)
                    if name is not None and name not in known:
                        raise PydanticCustomError(
                            "not_captured",
                            f"steps[{i}] uses {{{name}}}, which no earlier step captures "
                            "(write {{ and }} for literal braces)",
                        )
            known |= step.capture.keys()
        return self


@check_kind(SmokeCheck)
def run_smoke(check: SmokeCheck, ctx: CheckContext) -> CheckResult:
    """Run the steps in order; stop at the first that fails."""
    captured: dict[str, str] = {}
    secrets: list[str] = []
    done: list[str] = []
    with httpx.Client(timeout=check.timeout) as client:
        for i, step in enumerate(check.steps):
            label = step.name or f"{step.method} {step.path}"
            ok, seen = _step(step, i, check, ctx, client, captured, secrets)
            if not ok:
                # Short values would mask unrelated text; they are not worth hiding either.
                shown = redact(seen, sorted({s for s in secrets if len(s) >= 4}, key=len,
                                            reverse=True))
                return ctx.failed(f"step {i + 1} ({label}): {shown}")
            done.append(f"{label}: {seen}")
    return ctx.passed(f"{len(done)} steps passed: " + ", ".join(done))


def _step(step: SmokeStep, i: int, check: SmokeCheck, ctx: CheckContext,
          client: httpx.Client, captured: dict[str, str], secrets: list[str]) -> tuple[bool, str]:
    """Send one step's request, judge it, capture its values; (ok, what was seen)."""
    where = f"steps[{i}]"

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return _fill(value, captured, ctx, where, secrets)
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    try:
        response = client.request(
            step.method, ctx.url(fill(step.path), check.base_url),
            headers=fill(step.headers), json=fill(step.body),
        )
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    ok, seen = judge_response(response, expect_status=step.expect_status,
                              expect_json=step.expect_json, expect_text=step.expect_text,
                              show_body=False)
    if not ok or not step.capture:
        return ok, seen
    try:
        body = response.json()
    except ValueError:
        return False, f"{seen}, body is not JSON: cannot capture {', '.join(step.capture)}"
    for name, path in step.capture.items():
        found, value = json_at(body, path)
        if not found or value is None:
            return False, f"{seen}, no {path} in the JSON body to capture as {name}"
        captured[name] = value if isinstance(value, str) else json.dumps(value)
        secrets.append(captured[name])
    return True, seen


def _fill(text: str, captured: dict[str, str], ctx: CheckContext, where: str,
          secrets: list[str]) -> str:
    """Replace ``${NAME}``, ``{captured}``, ``{{`` and ``}}`` in one string."""

    def value(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is not None:
            filled = ctx.fill(token, where)
            secrets.append(filled)
            return filled
        return captured[match.group(2)]

    return _TOKEN.sub(value, text)


def _strings(value: Any) -> list[str]:
    """Every string inside nested lists and dicts (keys too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*_strings(key), *_strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
