"""Where an environment's canary metrics come from: ``environments.<env>.metrics``.

    metrics: {kind: builtin}                      # the local proxy's own counters
    metrics:
      kind: prometheus
      url: http://127.0.0.1:9090
      queries:
        requests: sum(increase(http_total{app="{{service}}",version="{{version}}"}[{{window}}]))
        extra:
          cpu: sum(rate(process_cpu_seconds_total{version="{{version}}"}[{{window}}]))
      headers: {Authorization: "Bearer ${PROMETHEUS_TOKEN}"}

Queries are templates: ``{{version}}`` and ``{{service}}`` become label values (quotes
escaped), ``{{window}}`` a Prometheus duration such as ``30s``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from rollgate.spec.base import Model
from rollgate.spec.durations import Duration

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
PLACEHOLDERS = ("version", "service", "window")

DEFAULT_REQUESTS = 'sum(increase(rollgate_proxy_requests_total{version="{{version}}"}[{{window}}]))'
DEFAULT_ERRORS = (
    'sum(increase(rollgate_proxy_requests_total{version="{{version}}",code="5xx"}[{{window}}]))'
)
DEFAULT_LATENCY = (
    "sum by (le) (increase("
    'rollgate_proxy_request_duration_seconds_bucket{version="{{version}}"}[{{window}}]))'
)

ExtraName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]


def check_template(query: str, *, need_version: bool) -> str:
    """Return ``query`` if its placeholders are known (and ``{{version}}`` is there if needed)."""
    if not query.strip():
        raise ValueError("must be a PromQL query, not empty")
    names = PLACEHOLDER.findall(query)
    unknown = sorted(set(names) - set(PLACEHOLDERS))
    if unknown:
        raise ValueError(
            f"unknown placeholder {{{{{unknown[0]}}}}}; use {{{{version}}}}, {{{{service}}}} "
            "or {{window}}"
        )
    if need_version and "version" not in names:
        raise ValueError(
            'must select one version with {{version}} (e.g. version="{{version}}"), or the '
            "canary and the baseline would read the same numbers"
        )
    return query


class PrometheusQueries(Model):
    """The PromQL behind each number of a window; defaults read rollgate's own proxy metrics."""

    requests: str = Field(
        DEFAULT_REQUESTS,
        description="instant query returning one number: requests the version answered in "
        "the window",
    )
    errors: str = Field(
        DEFAULT_ERRORS,
        description="instant query returning one number: of those, the failed ones (5xx)",
    )
    latency: str | None = Field(
        DEFAULT_LATENCY,
        description="instant query returning cumulative histogram buckets by `le` (seconds) "
        "over the window; null when the service has no latency histogram",
    )
    extra: dict[ExtraName, str] = Field(
        default_factory=dict,
        description="more named queries, each returning one number (or nothing) reported "
        "beside the window",
    )

    @field_validator("requests", "errors", "latency")
    @classmethod
    def _per_version(cls, query: str | None) -> str | None:
        return None if query is None else check_template(query, need_version=True)

    @field_validator("extra")
    @classmethod
    def _templates(cls, queries: dict[str, str]) -> dict[str, str]:
        for name, query in queries.items():
            try:
                check_template(query, need_version=False)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return queries


class BuiltinMetrics(Model):
    """Read requests, 5xx and latency per version from rollgate's own proxy."""

    kind: Literal["builtin"] = Field(description="selects this metric source")


class PrometheusMetrics(Model):
    """Run PromQL through a Prometheus-compatible HTTP API (``/api/v1/query``)."""

    kind: Literal["prometheus"] = Field(description="selects this metric source")
    url: str = Field(
        pattern=r"^https?://\S+$",
        description="base URL of the Prometheus HTTP API, e.g. http://127.0.0.1:9090",
    )
    queries: PrometheusQueries = Field(
        default_factory=PrometheusQueries,
        description="PromQL templates; {{version}}, {{service}} and {{window}} are filled in",
    )
    timeout: Duration = Field(5.0, gt=0, description="timeout of one query")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="extra request headers; write tokens as ${NAME} references to "
        "rollgate's environment, never literally",
    )


MetricsConfig = Annotated[BuiltinMetrics | PrometheusMetrics, Field(discriminator="kind")]
