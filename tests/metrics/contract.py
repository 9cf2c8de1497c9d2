"""The contract every metric source passes, against real traffic through a real proxy.

Two demo versions run behind a real proxy at 50/50: ``good`` answers at once, ``bad``
sleeps 150 ms and answers 20% of its requests with a 500. A load loop sends known
traffic; afterwards the source must report per version what the clients saw. ``spare``
is routed at weight 0 and ``idle`` not at all: neither got a request, and both must read
as "no data", not as an error.

A source's test module subclasses :class:`MetricSourceContract` as ``Test...``: it says
how to open the source, how to wait until the source has seen the traffic (sources that
scrape lag behind the proxy), and how coarse the source's numbers are.
"""

from __future__ import annotations

import math
import re
import socket
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from rollgate.demo.faults import write_faults
from rollgate.demo.load import LoadLoop, LoadSummary
from rollgate.demo.process import start_demo
from rollgate.errors import TargetError
from rollgate.metrics.base import MetricSource, Window
from rollgate.targets.local.proxy_client import (
    Backend,
    ProxyClient,
    ProxyInfo,
    start_proxy,
    stop_proxy,
)

GOOD, BAD, SPARE, IDLE = "good", "bad", "spare", "idle"
VERSIONS = (GOOD, BAD, SPARE, IDLE)
BAD_LATENCY_MS = 150.0
BAD_ERROR_RATE = 0.2
WINDOW_SECONDS = 60.0
# 200 requests/s for 5 s: ~500 per version, so the bad version's share of 500s lands
# within a few points of 20% while the whole scenario stays short.
RATE, SECONDS = 200.0, 5.0


@dataclass(frozen=True)
class Rig:
    """The real proxy the traffic goes through."""

    proxy: ProxyInfo
    admin: ProxyClient


@dataclass(frozen=True)
class Observed:
    """What the clients saw, and the source's windows read right after the traffic."""

    rig: Rig
    source: MetricSource
    sent: LoadSummary
    windows: dict[str, Window]

    def sent_requests(self, version: str) -> int:
        """Requests the clients got answered by ``version``."""
        return self.sent.by_version.get(version, 0)

    def sent_errors(self, version: str) -> int:
        """5xx the clients got from ``version``."""
        by_status = self.sent.by_version_status.get(version, {})
        return sum(n for status, n in by_status.items() if status >= 500)


def bucket_of(window: Window, value: float) -> tuple[float, float]:
    """The ``(lower, upper]`` bounds in ms of the window's bucket that holds ``value``."""
    lower = 0.0
    for bound in sorted(window.latency):
        if value <= bound:
            return lower, bound
        lower = bound
    return lower, math.inf


def dead_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def start_rig(stack: ExitStack, tmp: Path) -> Rig:
    """Start ``good`` and ``bad`` behind a real proxy at 50/50 (and ``spare`` at weight 0)."""
    faults = tmp / "faults.json"
    write_faults(faults, {BAD: {"latency_ms": BAD_LATENCY_MS, "error_rate": BAD_ERROR_RATE}})
    good = start_demo(GOOD, faults=faults)
    stack.callback(good.stop)
    bad = start_demo(BAD, faults=faults)
    stack.callback(bad.stop)
    proxy = start_proxy("127.0.0.1:0", tmp / "proxy.json", tmp / "proxy.log")
    stack.callback(stop_proxy, proxy.pid)
    admin = stack.enter_context(ProxyClient(proxy.admin_url))
    admin.set_routes(
        [Backend(GOOD, good.url, 50), Backend(BAD, bad.url, 50), Backend(SPARE, dead_url(), 0)]
    )
    return Rig(proxy=proxy, admin=admin)


class MetricSourceContract(ABC):
    """The tests every metric source passes; subclass it as ``Test<Source>``."""

    #: Relative tolerance on counts (Prometheus' ``increase()`` extrapolates a little).
    count_tolerance: ClassVar[float] = 0.0
    #: Ratio between neighbouring latency bucket bounds, coarsest place of the range used.
    bucket_ratio: ClassVar[float]
    #: What the error of an unreachable source says (a regular expression).
    unreachable_message: ClassVar[str]

    @abstractmethod
    def open_source(self, rig: Rig, tmp: Path) -> AbstractContextManager[MetricSource]:
        """Start whatever the source reads from, and return the source reading ``rig``."""

    @abstractmethod
    def unreachable_source(self) -> AbstractContextManager[MetricSource]:
        """A source pointed at a loopback port nothing listens on."""

    @abstractmethod
    def before_traffic(self, source: MetricSource, rig: Rig) -> None:
        """Wait until the source sees the routed versions, at zero."""

    @abstractmethod
    def after_traffic(self, source: MetricSource, rig: Rig) -> None:
        """Wait until the source has seen all the traffic."""

    @pytest.fixture(scope="class")
    @classmethod
    def observed(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
        """Run the traffic once per source and read every version's window."""
        tmp = tmp_path_factory.mktemp("metrics")
        hooks = cls()
        with ExitStack() as stack:
            rig = start_rig(stack, tmp)
            source = stack.enter_context(hooks.open_source(rig, tmp))
            hooks.before_traffic(source, rig)
            load = LoadLoop(
                f"http://{rig.proxy.listen}/", rate=RATE, concurrency=48, max_seconds=SECONDS
            )
            sent = load.start().wait(timeout=SECONDS + 30)
            hooks.after_traffic(source, rig)
            windows = {v: source.window(v, WINDOW_SECONDS) for v in VERSIONS}
            yield Observed(rig=rig, source=source, sent=sent, windows=windows)

    def close_enough(self, got: int, want: int) -> bool:
        """Whether a count matches within the source's tolerance (and one for rounding)."""
        return abs(got - want) <= self.count_tolerance * want + 1

    def test_the_traffic_went_as_planned(self, observed: Observed) -> None:
        assert observed.sent.by_status.get(0, 0) == 0, observed.sent.by_status
        assert set(observed.sent.by_version) == {GOOD, BAD}
        for version in (GOOD, BAD):  # ~500 each; far fewer only on a starved machine
            assert observed.sent_requests(version) > 100, observed.sent.by_version

    def test_windows_name_their_version_and_length(self, observed: Observed) -> None:
        for version, window in observed.windows.items():
            assert window.version == version
            assert window.seconds == WINDOW_SECONDS

    def test_request_counts_match_what_was_sent(self, observed: Observed) -> None:
        for version in (GOOD, BAD):
            got, want = observed.windows[version].requests, observed.sent_requests(version)
            assert self.close_enough(got, want), (version, got, want)

    def test_error_counts_match_the_injected_error_rate(self, observed: Observed) -> None:
        good, bad = observed.windows[GOOD], observed.windows[BAD]
        assert good.errors == 0
        assert self.close_enough(bad.errors, observed.sent_errors(BAD)), (
            bad.errors,
            observed.sent_errors(BAD),
        )
        # Four binomial standard deviations (~0.07 at the ~500 requests planned).
        spread = 4 * math.sqrt(BAD_ERROR_RATE * (1 - BAD_ERROR_RATE) / max(1, bad.requests))
        assert bad.error_rate == pytest.approx(BAD_ERROR_RATE, abs=spread)

    def test_the_latency_histogram_holds_every_request(self, observed: Observed) -> None:
        for version in (GOOD, BAD):
            window = observed.windows[version]
            assert all(count >= 0 for count in window.latency.values())
            assert self.close_enough(sum(window.latency.values()), window.requests)

    def test_latency_quantiles_reflect_the_injected_latency(self, observed: Observed) -> None:
        good, bad = observed.windows[GOOD], observed.windows[BAD]
        for q in (0.5, 0.95):
            value = bad.quantile(q)
            assert value is not None
            lower, upper = bucket_of(bad, value)
            # Every bad request slept 150 ms; the proxy adds little on top of that.
            assert upper >= BAD_LATENCY_MS and lower <= 1.5 * BAD_LATENCY_MS, (q, lower, upper)
            assert value >= BAD_LATENCY_MS / self.bucket_ratio
        good_p95 = good.quantile(0.95)
        assert good_p95 is not None and good_p95 < BAD_LATENCY_MS / self.bucket_ratio

    def test_a_version_without_traffic_has_no_data(self, observed: Observed) -> None:
        for version in (SPARE, IDLE):  # routed at weight 0; never routed at all
            window = observed.windows[version]
            assert (window.requests, window.errors) == (0, 0), version
            assert window.error_rate is None and window.quantile(0.95) is None

    def test_an_unreachable_source_is_a_clear_error(self) -> None:
        with (
            self.unreachable_source() as source,
            pytest.raises(TargetError, match=re.compile(self.unreachable_message)),
        ):
            source.window(GOOD, WINDOW_SECONDS)
