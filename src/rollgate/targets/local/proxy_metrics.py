"""Prometheus exposition of the proxy's statistics.

The collector reads the counters :mod:`proxy_stats` already keeps, at scrape time, so
a request is counted once and costs nothing extra for Prometheus.

A routed version is exported at zero before its first request: ``increase()`` cannot
count what happened before the first sample it sees, so without that zero a canary's
first requests (and first errors) would be invisible to Prometheus.

Maintenance answers are exported apart (``rollgate_proxy_maintenance_responses_total`` and
the ``rollgate_proxy_maintenance`` gauge), never as a version's requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from rollgate.targets.local.proxy_maintenance import Maintenance
from rollgate.targets.local.proxy_routes import RouteTable
from rollgate.targets.local.proxy_stats import CLASSES, NO_TRAFFIC, PROM_BOUNDS, ProxyStats

MaintenanceSource = Callable[[], Maintenance | None]


def _never() -> Maintenance | None:
    return None


class ProxyCollector(Collector):
    """Yields request counts, latency histograms, backend weights and maintenance state."""

    def __init__(
        self,
        stats: ProxyStats,
        routes: Callable[[], RouteTable],
        maintenance: MaintenanceSource = _never,
    ) -> None:
        self._stats = stats
        self._routes = routes
        self._maintenance = maintenance

    def collect(self) -> Iterator[Metric]:
        """Build the metric families from the current statistics and routing table."""
        requests = CounterMetricFamily(
            "rollgate_proxy_requests",
            "Requests answered through the proxy, by version and status class.",
            labels=["version", "code"],
        )
        upstream_errors = CounterMetricFamily(
            "rollgate_proxy_upstream_errors",
            "Attempts that could not reach the chosen backend (counted as 5xx too).",
            labels=["version"],
        )
        duration = HistogramMetricFamily(
            "rollgate_proxy_request_duration_seconds",
            "Time from receiving a request to the last byte of its response.",
            labels=["version"],
        )
        table = self._routes()
        routed = {backend.version for backend in table.backends}
        for version in sorted(routed | set(self._stats.versions)):
            stats = self._stats.versions.get(version) or NO_TRAFFIC
            for code, count in zip(CLASSES, stats.counts, strict=True):
                requests.add_metric([version, code], count)
            upstream_errors.add_metric([version], stats.upstream_errors)
            cumulative = 0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip((*PROM_BOUNDS, float("inf")), stats.prom_buckets, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            duration.add_metric([version], buckets, stats.prom_sum)
        weight = GaugeMetricFamily(
            "rollgate_proxy_backend_weight",
            "Weight of each backend in the current routing table.",
            labels=["version", "url"],
        )
        for backend in table.backends:
            weight.add_metric([backend.version, backend.url], backend.weight)
        yield requests
        yield upstream_errors
        yield duration
        yield weight
        yield from self._maintenance_metrics()

    def _maintenance_metrics(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "rollgate_proxy_maintenance_responses",
            "Requests answered 503 by maintenance mode (no version's requests or errors).",
            value=self._stats.maintenance_responses,
        )
        yield GaugeMetricFamily(
            "rollgate_proxy_maintenance",
            "1 while maintenance mode answers every public request, 0 otherwise.",
            value=0 if self._maintenance() is None else 1,
        )


def build_registry(
    stats: ProxyStats,
    routes: Callable[[], RouteTable],
    maintenance: MaintenanceSource = _never,
) -> CollectorRegistry:
    """Return a registry of its own holding only the proxy's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProxyCollector(stats, routes, maintenance))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """Return the registry in the Prometheus text exposition format."""
    return generate_latest(registry)
