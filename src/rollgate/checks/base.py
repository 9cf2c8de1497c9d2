"""Check results and the expectation helpers every HTTP check shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: passed or not, and what was observed."""

    name: str
    ok: bool
    detail: str
    duration_ms: int


def json_contains(actual: Any, expected: Any) -> bool:
    """True when ``expected`` is a subset of ``actual`` (dicts by key, other values equal)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and json_contains(actual[k], v) for k, v in expected.items()
        )
    return bool(actual == expected)


def judge_response(
    response: httpx.Response,
    *,
    expect_status: int,
    expect_json: dict[str, Any] | None = None,
    expect_text: str | None = None,
) -> tuple[bool, str]:
    """Compare a response with expectations; return (ok, what was seen)."""
    seen = f"HTTP {response.status_code}"
    if response.status_code != expect_status:
        return False, f"{seen}, expected {expect_status}"
    if expect_json is not None:
        try:
            body = response.json()
        except ValueError:
            return False, f"{seen}, body is not JSON, expected {expect_json}"
        if not json_contains(body, expect_json):
            return False, f"{seen}, body {_short(body)} does not contain {expect_json}"
    if expect_text is not None and expect_text not in response.text:
        return False, f"{seen}, body does not contain {expect_text!r}"
    return True, seen


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
