"""The built-in source: the proxy's own counters through its admin API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from rollgate.metrics.base import MetricSource
from rollgate.metrics.builtin import BuiltinSource
from tests.metrics.contract import BAD, GOOD, MetricSourceContract, Observed, Rig, dead_url

pytestmark = pytest.mark.timeout(60)


@contextmanager
def _builtin(admin_url: str) -> Iterator[MetricSource]:
    with BuiltinSource(admin_url) as source:
        yield source


class TestBuiltinSource(MetricSourceContract):
    count_tolerance = 0.0  # the proxy counted the very requests the clients saw
    bucket_ratio = 1.04
    unreachable_message = r"cannot reach the rollgate proxy admin API at http://127\.0\.0\.1:\d+"

    def open_source(self, rig: Rig, tmp: Path) -> AbstractContextManager[MetricSource]:
        return _builtin(rig.proxy.admin_url)

    def unreachable_source(self) -> AbstractContextManager[MetricSource]:
        return _builtin(dead_url())

    def before_traffic(self, source: MetricSource, rig: Rig) -> None:
        """Nothing to wait for: the proxy counts each request as it answers it."""

    def after_traffic(self, source: MetricSource, rig: Rig) -> None:
        """Nothing to wait for: the proxy counts each request as it answers it."""

    def test_counts_are_exactly_the_proxys(self, observed: Observed) -> None:
        stats = observed.rig.admin.stats(window=60)["versions"]
        for version in (GOOD, BAD):
            window = observed.windows[version]
            assert window.requests == stats[version]["requests"]
            assert window.errors == stats[version]["5xx"]
            assert window.quantile(0.95) == pytest.approx(stats[version]["p95_ms"], rel=0.05)

    def test_a_window_longer_than_the_proxy_keeps_says_what_it_covers(
        self, observed: Observed
    ) -> None:
        window = observed.source.window(GOOD, 7200)
        assert window.seconds == 3600
        assert window.requests == observed.windows[GOOD].requests
