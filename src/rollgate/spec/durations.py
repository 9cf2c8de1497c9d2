"""Durations in the spec: ``500ms``, ``30s``, ``5m``, ``1h30m``, ``2d`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
PATTERN = r"^((\d+(\.\d+)?)(ms|s|m|h|d))+$"


def parse_duration(value: Any) -> float:
    """Return seconds for a duration string or number; raise ValueError with a hint."""
    if isinstance(value, bool):
        raise ValueError("must be a duration like 30s, 5m or 1h")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite duration")
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(PATTERN, text):
            return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    raise ValueError(f"must be a duration like 30s, 5m or 1h (got {value!r})")


def format_duration(seconds: float) -> str:
    """Render seconds the way the spec writes them (``90`` -> ``1m30s``)."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds != int(seconds):
        return f"{seconds:g}s"
    total = int(seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            out.append(f"{total // size}{unit}")
            total %= size
    return "".join(out) or "0s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "a duration: 500ms, 30s, 5m, 1h, 2d, or seconds",
        }
    ),
]
