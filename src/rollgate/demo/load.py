"""A bounded load generator for tests and the demo.

    with LoadLoop("http://127.0.0.1:8080/", concurrency=4, max_seconds=5) as load:
        ...                       # change routes, stop versions, ...
    print(load.summary().by_version)

It runs in a background thread with its own event loop and always stops by itself,
after ``max_seconds`` or ``max_requests``, whichever comes first.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

import httpx

VERSION_HEADER = "X-Rollgate-Version"
CONNECTION_ERROR = 0
MAINTENANCE_HEADER = "X-Rollgate-Maintenance"
MAINTENANCE = "(maintenance)"  # the "version" of answers the proxy gave in maintenance mode


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: its status (0 = connection error), serving version, latency, end time."""

    status: int
    version: str
    seconds: float
    at: float = 0.0  # time.monotonic() when the answer (or the error) came


@dataclass(frozen=True)
class LoadSummary:
    """Counts of what a load loop saw; version ``""`` means no X-Rollgate-Version header."""

    total: int
    duration_s: float
    by_status: dict[int, int] = field(default_factory=dict)
    by_version: dict[str, int] = field(default_factory=dict)
    by_version_status: dict[str, dict[int, int]] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Return how many requests failed to connect or got a 5xx (maintenance answers too)."""
        return sum(n for status, n in self.by_status.items() if status == 0 or status >= 500)

    @property
    def maintenance(self) -> int:
        """Return how many requests the proxy answered itself with its maintenance 503."""
        return self.by_version_status.get(MAINTENANCE, {}).get(503, 0)

    @property
    def unexpected(self) -> int:
        """Return the failures users should never see: errors other than maintenance."""
        return self.errors - self.maintenance

    @property
    def rate(self) -> float:
        """Return the achieved requests per second."""
        return self.total / self.duration_s if self.duration_s > 0 else 0.0


class LoadLoop:
    """Sends GET requests to one URL from a background thread until stopped or bounded."""

    def __init__(
        self,
        url: str,
        *,
        rate: float | None = None,
        concurrency: int = 4,
        max_seconds: float = 30.0,
        max_requests: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        if concurrency < 1 or max_seconds <= 0 or (rate is not None and rate <= 0):
            raise ValueError("concurrency >= 1, max_seconds > 0 and rate > 0 (or None) please")
        self.url = url
        self.rate = rate
        self.concurrency = concurrency
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.timeout = timeout
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._issued = 0
        self._started = 0.0
        self._finished: float | None = None

    def start(self) -> LoadLoop:
        """Start sending in the background; returns self."""
        if self._thread is not None:
            raise RuntimeError("a LoadLoop runs once; create a new one")
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rollgate-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> LoadSummary:
        """Stop sending, wait for in-flight requests, return the summary."""
        self._stop.set()
        return self.wait()

    def wait(self, timeout: float | None = None) -> LoadSummary:
        """Wait until the loop ends by its bounds (or ``stop``), return the summary."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.summary()

    @property
    def running(self) -> bool:
        """Return True while requests are being sent."""
        return self._thread is not None and self._thread.is_alive()

    def samples(self) -> list[Sample]:
        """Return a copy of every sample recorded so far."""
        with self._lock:
            return list(self._samples)

    def summary(self) -> LoadSummary:
        """Return counts by status, by version and by both, so far."""
        samples = self.samples()
        end = self._finished if self._finished is not None else time.monotonic()
        by_version_status: dict[str, Counter[int]] = {}
        for sample in samples:
            by_version_status.setdefault(sample.version, Counter())[sample.status] += 1
        return LoadSummary(
            total=len(samples),
            duration_s=max(0.0, end - self._started) if self._started else 0.0,
            by_status=dict(Counter(s.status for s in samples)),
            by_version=dict(Counter(s.version for s in samples)),
            by_version_status={v: dict(c) for v, c in by_version_status.items()},
        )

    def __enter__(self) -> LoadLoop:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self._finished = time.monotonic()

    async def _main(self) -> None:
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        plain = self.url.startswith("http://")  # no TLS: skip loading CA certificates
        async with httpx.AsyncClient(
            limits=limits, timeout=self.timeout, trust_env=False, verify=not plain
        ) as client:
            await asyncio.gather(*(self._worker(client) for _ in range(self.concurrency)))

    def _next_slot(self) -> float | None:
        """Reserve the next request; return when to send it, or None when the loop is done."""
        deadline = self._started + self.max_seconds
        if self._stop.is_set() or time.monotonic() >= deadline:
            return None
        if self.max_requests is not None and self._issued >= self.max_requests:
            return None
        when = self._started + self._issued / self.rate if self.rate else 0.0
        if when >= deadline:
            return None
        self._issued += 1
        return when

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while (when := self._next_slot()) is not None:
            while (wait := when - time.monotonic()) > 0:
                if self._stop.is_set():
                    return
                await asyncio.sleep(min(wait, 0.05))
            sent = time.monotonic()
            try:
                response = await client.get(self.url)
                done = time.monotonic()
                served = response.headers.get(VERSION_HEADER, "")
                if not served and response.headers.get(MAINTENANCE_HEADER):
                    served = MAINTENANCE
                sample = Sample(response.status_code, served, done - sent, done)
            except httpx.TransportError:
                done = time.monotonic()
                sample = Sample(CONNECTION_ERROR, "", done - sent, done)
            with self._lock:
                self._samples.append(sample)
