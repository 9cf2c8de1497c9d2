"""Templates: one autoescaping Jinja2 environment, its filters, and page responses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.templating import Jinja2Templates

from rollgate.web.chart import format_value

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def when(value: datetime | None) -> str:
    """A UTC time as ``2025-01-04 14:30:05``; empty when unknown."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def milliseconds(value: int | float | None) -> str:
    """A duration in milliseconds, readably."""
    if value is None:
        return ""
    if value < 1000:
        return f"{value:.0f} ms"
    seconds = value / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"


def run_took(run: Any) -> str:
    """How long a run took (or has been running)."""
    started = run.get("started_at") if isinstance(run, dict) else run.started_at
    finished = run.get("finished_at") if isinstance(run, dict) else run.finished_at
    if started is None:
        return ""
    end = finished or datetime.now(UTC)
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return milliseconds((end - started).total_seconds() * 1000)


def metric_value(value: float | None, metric: str) -> str:
    """A check value as its metric reads."""
    return "" if value is None else format_value(metric, value)


def environment() -> Environment:
    """The Jinja2 environment: autoescaping everywhere, undefined names are errors."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, ms=milliseconds, run_took=run_took, metric=metric_value)
    return env


templates = Jinja2Templates(env=environment())


def page(request: Request, name: str, context: dict[str, Any], status: int = 200
         ) -> HTMLResponse:
    """Render a template with the visitor (from ``request.state``) in its context."""
    visitor = getattr(request.state, "visitor", None)
    response = templates.TemplateResponse(request, name, {"visitor": visitor, "nav": "",
                                                          **context}, status_code=status)
    response.headers.setdefault("Cache-Control", "no-store")
    return response
