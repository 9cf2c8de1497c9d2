"""The metric source an environment's spec asks for."""

from __future__ import annotations

from rollgate.metrics.base import MetricSource
from rollgate.metrics.builtin import BuiltinSource
from rollgate.metrics.prometheus import PrometheusSource
from rollgate.spec.metrics import BuiltinMetrics, MetricsConfig


def source_for(config: MetricsConfig, *, service: str, proxy_admin_url: str) -> MetricSource:
    """Build the configured source: the proxy's own counters, or Prometheus."""
    if isinstance(config, BuiltinMetrics):
        return BuiltinSource(proxy_admin_url)
    return PrometheusSource.from_config(config, service=service)
