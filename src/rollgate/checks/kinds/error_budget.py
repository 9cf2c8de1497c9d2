"""``kind: error_budget``: the service's error budget over an SLO window is not spent.

Seed 000: "Availability: API 99.9% monthly" and, before production, "error budget not
exhausted". With an objective of 99.9% over 30d, 0.1% of the window's requests may fail:
that is the budget. The check fails once the 5xx of the window used it all, and warns
when less than ``warn_below`` of it is left.

Traffic comes from the environment's metric source. The builtin one (the proxy's own
counters) keeps one hour: a longer window is judged on that hour, with a warning.
Prometheus runs ``queries`` (PromQL for the whole service, every version together).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext, TrafficSource
from rollgate.checks.registry import check_kind
from rollgate.errors import TargetError, UsageError
from rollgate.metrics.base import Window
from rollgate.spec.base import Model
from rollgate.spec.durations import Duration, format_duration
from rollgate.spec.metrics import (
    BuiltinMetrics,
    PrometheusMetrics,
    PrometheusQueries,
    check_template,
)


class BudgetQueries(Model):
    """PromQL for the whole service; ``{{service}}`` and ``{{window}}`` are filled in."""

    requests: str = Field(
        description="instant query returning one number: requests answered in the window, "
        'e.g. sum(increase(http_requests_total{app="{{service}}"}[{{window}}]))'
    )
    errors: str = Field(
        description="instant query returning one number: of those, the failed ones (5xx)"
    )

    @field_validator("requests", "errors")
    @classmethod
    def _whole_service(cls, query: str) -> str:
        check_template(query, need_version=False)
        if "{{version}}" in query.replace(" ", ""):
            raise ValueError("the budget is the whole service's: leave {{version}} out")
        return query


class ErrorBudgetCheck(CheckConfig):
    """An availability objective over a window, judged on the environment's metrics."""

    kind: Literal["error_budget"] = Field(description="selects this check")
    objective: float = Field(
        gt=0, lt=100, description="share of requests that must succeed, in percent, e.g. 99.9"
    )
    window: Duration = Field(gt=0, description="the SLO window, e.g. 30d or 1h")
    warn_below: float = Field(
        0.25, ge=0, le=1, description="warn when less than this share of the budget is left"
    )
    queries: BudgetQueries | None = Field(
        None, description="with a prometheus metric source: how to count the service's "
        "requests and errors"
    )


@check_kind(ErrorBudgetCheck)
def run_error_budget(check: ErrorBudgetCheck, ctx: CheckContext) -> CheckResult:
    """Read the window's requests and errors; judge the budget left."""
    source = ctx.metric_source or _source(check, ctx)
    window = source.totals(check.window)
    over = f"over {format_duration(window.seconds)}"
    short = window.seconds < check.window * 0.99
    if short:
        over += f" (the metric source keeps only that of the {format_duration(check.window)} asked)"
    if window.requests == 0:
        return ctx.warned(f"no requests {over}: no error budget to judge")
    allowed = window.requests * (100 - check.objective) / 100
    left = 1 - window.errors / allowed
    availability = 100 * (1 - window.errors / window.requests)
    seen = (f"availability {availability:.3f}% {over}, objective {check.objective:g}%: "
            f"{window.errors} failed of {window.requests} requests, "
            f"{max(left, 0):.0%} of the error budget left")
    if left <= 0:
        return ctx.failed(f"{seen} (exhausted)")
    if left < check.warn_below or short:
        return ctx.warned(seen)
    return ctx.passed(seen)


def _source(check: ErrorBudgetCheck, ctx: CheckContext) -> TrafficSource:
    """The traffic of the environment's metric source."""
    config = ctx.spec.environments[ctx.environment].metrics
    if isinstance(config, BuiltinMetrics):
        if ctx.proxy_admin_url is None:
            raise UsageError(f"no proxy runs for the service in {ctx.environment}, so the "
                             "builtin metric source has no traffic to read; deploy first")
        return ProxyTraffic(ctx.proxy_admin_url)
    if check.queries is None:
        raise UsageError(f"{ctx.environment} reads metrics from Prometheus: give the check "
                         "queries.requests and queries.errors (PromQL for the whole service)")
    return PrometheusTraffic(config, check.queries, service=ctx.service or "",
                             environ=ctx.variables)


class ProxyTraffic:
    """Every version's requests and 5xx, from the proxy's own counters (at most one hour)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def totals(self, seconds: float) -> Window:
        """Sum the proxy's per-version window rows."""
        from rollgate.targets.local.proxy_client import ProxyClient

        with ProxyClient(self.admin_url) as client:
            body = client.stats(seconds, histogram=True)
        try:
            rows = body["versions"].values()
            return Window(version="*", seconds=float(body["window"]),
                          requests=sum(int(row["requests"]) for row in rows),
                          errors=sum(int(row["errors"]) for row in rows))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TargetError(f"the proxy at {self.admin_url} sent /stats without the counts "
                              f"rollgate reads ({type(exc).__name__}: {exc}); restart it") from exc


class PrometheusTraffic:
    """The service's requests and errors from PromQL over the Prometheus HTTP API."""

    def __init__(self, config: PrometheusMetrics, queries: BudgetQueries, *, service: str,
                 environ: dict[str, str]) -> None:
        self.config, self.queries, self.service, self.environ = config, queries, service, environ

    def totals(self, seconds: float) -> Window:
        """Run both queries at one instant through the environment's Prometheus source."""
        from rollgate.metrics.prometheus import PrometheusSource

        # The source's own queries must select a version; these count every version, so
        # they are handed over as they are (BudgetQueries validated them).
        per_service = PrometheusQueries.model_construct(
            requests=self.queries.requests, errors=self.queries.errors, latency=None, extra={})
        config = self.config.model_copy(update={"queries": per_service})
        with PrometheusSource.from_config(config, service=self.service,
                                          environ=self.environ) as source:
            window = source.window("*", seconds)
        return Window(version="*", seconds=seconds, requests=window.requests,
                      errors=window.errors)
