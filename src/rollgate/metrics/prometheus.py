"""The Prometheus metric source: PromQL instant queries through the HTTP API.

Every query of one window is evaluated at the same instant, so requests, errors and the
latency buckets describe the same stretch of time. ``increase()`` extrapolates to the
window's edges, so counts arrive as floats; they are rounded to whole requests.
An empty result means no data (0 requests), never an error: a canary that got no
traffic yet is "inconclusive", which analysis must tell apart from "healthy".
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from rollgate.errors import TargetError
from rollgate.metrics.base import Window
from rollgate.spec.metrics import PLACEHOLDER, PrometheusMetrics, PrometheusQueries

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def prometheus_duration(seconds: float) -> str:
    """Render a window the way PromQL range selectors want it: ``30s``, ``1500ms``."""
    if seconds <= 0 or not math.isfinite(seconds):
        raise ValueError(f"a window must be a positive number of seconds, got {seconds!r}")
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def render(template: str, *, version: str, service: str, window: float) -> str:
    """Fill ``{{version}}``, ``{{service}}`` and ``{{window}}`` into a PromQL template."""
    values = {
        "version": _label_value(version),
        "service": _label_value(service),
        "window": prometheus_duration(window),
    }
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _label_value(text: str) -> str:
    # Label values sit inside double quotes; escaping keeps a version name from ending them.
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class PrometheusSource:
    """Reads windows from the Prometheus at ``url``; queries as in :class:`PrometheusQueries`."""

    kind: ClassVar[str] = "prometheus"

    def __init__(
        self,
        url: str,
        queries: PrometheusQueries,
        service: str,
        timeout: float = 5,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.queries = queries
        self.service = service
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout, headers=dict(headers or {}), trust_env=False
        )

    @classmethod
    def from_config(
        cls, config: PrometheusMetrics, *, service: str, environ: Mapping[str, str] | None = None
    ) -> PrometheusSource:
        """Build the source of a spec's ``metrics`` block, filling ``${NAME}`` in headers."""
        env = os.environ if environ is None else environ
        headers = {name: _fill(name, value, env) for name, value in config.headers.items()}
        return cls(config.url, config.queries, service, config.timeout, headers=headers)

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def window(self, version: str, seconds: float) -> Window:
        """Requests, errors, latency and extras of ``version`` over the last ``seconds``."""
        at = time.time()

        def run(name: str, template: str) -> list[dict[str, Any]]:
            query = render(template, version=version, service=self.service, window=seconds)
            return self._query(name, query, at)

        requests = _count("requests", run("requests", self.queries.requests))
        errors = _count("errors", run("errors", self.queries.errors))
        latency: dict[float, int] = {}
        if self.queries.latency is not None:
            latency = _buckets(run("latency", self.queries.latency))
        extra = {
            name: _scalar(f"extra.{name}", run(f"extra.{name}", template))
            for name, template in self.queries.extra.items()
        }
        return Window(
            version=version,
            seconds=seconds,
            requests=requests,
            errors=errors,
            latency=latency,
            extra=extra,
        )

    def _query(self, name: str, query: str, at: float) -> list[dict[str, Any]]:
        """Run one instant query; return its series as ``[{"metric", "value"}]``."""
        where = f"the {name} query to Prometheus at {self.url}"
        try:
            response = self._http.get("/api/v1/query", params={"query": query, "time": at})
        except httpx.HTTPError as exc:
            raise TargetError(
                f"{where} failed: {type(exc).__name__}: {exc}; check that Prometheus runs "
                "and that metrics.url points at it"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") != "success":
            detail = (
                f"{body.get('errorType', 'error')}: {body.get('error', '')}"
                if isinstance(body, dict)
                else response.text[:200]
            )
            raise TargetError(
                f"{where} failed with HTTP {response.status_code} ({detail}); fix "
                f"metrics.queries.{name} in the spec or check Prometheus; query: {query}"
            )
        data = body.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list):
            return [{"metric": {}, "value": result}]
        if kind == "vector" and isinstance(result, list):
            return result
        raise TargetError(
            f"{where} returned a {kind} result; it must be an instant vector or a scalar "
            f"(query: {query})"
        )


def _value(name: str, series: dict[str, Any]) -> float:
    try:
        return float(series["value"][1])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise TargetError(
            f"the {name} query returned a sample rollgate cannot read: {series}"
        ) from exc


def _scalar(name: str, result: list[dict[str, Any]]) -> float | None:
    """One number, or None when the query matched nothing (or gave NaN)."""
    if not result:
        return None
    if len(result) > 1:
        labels = ", ".join(str(series.get("metric", {})) for series in result[:3])
        raise TargetError(
            f"the {name} query returned {len(result)} series ({labels}, ...); it must "
            "return one number: aggregate it, e.g. sum(...)"
        )
    value = _value(name, result[0])
    return None if math.isnan(value) else value


def _count(name: str, result: list[dict[str, Any]]) -> int:
    """A request count: extrapolated floats rounded, no data as 0."""
    value = _scalar(name, result)
    return 0 if value is None or value < 0 else round(value)


def _buckets(result: list[dict[str, Any]]) -> dict[float, int]:
    """Turn cumulative ``le`` buckets (seconds) into the Window's non-cumulative ms histogram."""
    cumulative: list[tuple[float, float]] = []
    for series in result:
        le = series.get("metric", {}).get("le")
        if le is None:
            raise TargetError(
                "the latency query returned a series without an `le` label; it must "
                "aggregate histogram buckets by le, e.g. sum by (le) (increase(..._bucket[...]))"
            )
        value = _value("latency", series)
        cumulative.append((float(le), 0.0 if math.isnan(value) else value))
    # Empty buckets stay: a Window reads each count as lying above the previous key.
    latency: dict[float, int] = {}
    below = 0
    for le, value in sorted(cumulative):
        # Each bucket is extrapolated on its own: keep the rounded running total monotonic.
        running = max(below, round(value))
        bound = float(f"{le * 1000.0:.12g}") if math.isfinite(le) else math.inf
        latency[bound] = running - below
        below = running
    return latency


def _fill(header: str, value: str, env: Mapping[str, str]) -> str:
    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise TargetError(
                f"metrics.headers.{header} refers to ${{{name}}}, which is not set in "
                f"rollgate's environment; export {name} and try again"
            )
        return env[name]

    return _REF.sub(lookup, value)
