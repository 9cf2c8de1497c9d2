"""Prometheus exposition of the proxy's statistics.

The collector reads the counters :mod:`proxy_stats` already keeps, at scrape time, so
a request is counted once and costs nothing extra for Prometheus.

A routed version is exported at zero before its first request: ``increase()`` cannot
count what happened before the first sample it sees, so without that zero a canary's
first requests (and first errors) would be invisible to Prometheus.
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

from rollgate.targets.local.proxy_routes import RouteTable
from rollgate.targets.local.proxy_stats import CLASSES, NO_TRAFFIC, PROM_BOUNDS, ProxyStats


class ProxyCollector(Collector):
    """Yields request counts, latency histograms and backend weights on each scrape."""

    def __init__(self, stats: ProxyStats, routes: Callable[[], RouteTable]) -> None:
        self._stats = stats
        self._routes = routes

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


def build_registry(stats: ProxyStats, routes: Callable[[], RouteTable]) -> CollectorRegistry:
    """Return a registry of its own holding only the proxy's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProxyCollector(stats, routes))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """Return the registry in the Prometheus text exposition format."""
    return generate_latest(registry)
