"""Check results, the base of every check's config, and the expectations HTTP checks share."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx
from pydantic import Field

from rollgate.spec.base import Model

Status = Literal["pass", "warning", "fail"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: passed (maybe with a warning) or not, and what was observed.

    ``detail`` names what was seen and never holds a secret value. A warning is a pass that
    deserves attention (a certificate expiring in 20 days); strict mode makes it a failure.
    """

    name: str
    ok: bool
    detail: str
    duration_ms: int
    warning: bool = False

    @property
    def status(self) -> Status:
        """``pass``, ``warning`` or ``fail``."""
        if not self.ok:
            return "fail"
        return "warning" if self.warning else "pass"

    def strict(self) -> CheckResult:
        """This result in strict mode: a warning fails."""
        return replace(self, ok=False) if self.status == "warning" else self


class CheckConfig(Model):
    """Base of every check kind's config in ``checks:``; ``kind`` selects the kind."""

    kind: str = Field(description="selects the check kind")


def json_contains(actual: Any, expected: Any) -> bool:
    """True when ``expected`` is a subset of ``actual`` (dicts by key, other values equal)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and json_contains(actual[k], v) for k, v in expected.items()
        )
    return bool(actual == expected)


def json_at(document: Any, path: str) -> tuple[bool, Any]:
    """The value at a dotted ``path`` (``data.token``, ``items.0.id``): (found, value)."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def judge_response(
    response: httpx.Response,
    *,
    expect_status: int,
    expect_json: dict[str, Any] | None = None,
    expect_text: str | None = None,
    show_body: bool = True,
) -> tuple[bool, str]:
    """Compare a response with expectations; return (ok, what was seen).

    With ``show_body=False`` a mismatching JSON body is not quoted (it may hold secrets).
    """
    seen = f"HTTP {response.status_code}"
    if response.status_code != expect_status:
        return False, f"{seen}, expected {expect_status}"
    if expect_json is not None:
        try:
            body = response.json()
        except ValueError:
            return False, f"{seen}, body is not JSON, expected {expect_json}"
        if not json_contains(body, expect_json):
            shown = f" {_short(body)}" if show_body else ""
            return False, f"{seen}, body{shown} does not contain {expect_json}"
    if expect_text is not None and expect_text not in response.text:
        return False, f"{seen}, body does not contain {expect_text!r}"
    return True, seen


def transport_error(exc: httpx.HTTPError) -> str:
    """A short description of a failed request: ``ConnectError: [Errno 111] ...``."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
