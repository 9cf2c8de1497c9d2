"""The notification outbox: throughput and delivery latency vs a direct POST per event.

rollgate side: a store (an SQLite file, and a fresh PostgreSQL database on 127.0.0.1:5432
when it answers, dropped afterwards), a spec with one signed webhook channel (its secret a
``${NAME}`` reference filled from the environment) and a route for every event, and the
server's real delivery loop (``rollgate.api.worker.NotifyWorker``: ``outbox.run_pass`` every
0.1 s, at once again while busy). A producer thread writes events with
``events.emit``, each in its own transaction, as an incident's timeline does.

The receiver is a separate process (aiohttp on uvloop) that checks each signature and
records when each idempotency key arrived (``time.monotonic``: CLOCK_MONOTONIC, one clock
for every process on Linux). Its CPU time per event is reported for every row, to show it
is not what limits the numbers.

Measured, per store:

- burst: N events emitted at full speed, each on its own thread (a different incident),
  while the worker delivers; events/s = N / (last arrival - first emit). The caller's cost
  per event (the emit transaction) is reported too, and, as a reference, that cost with no
  worker in the process (a CLI run; the server runs its worker beside the API's threads,
  which share one interpreter lock with it).
- one incident: a smaller burst on a single thread (one busy incident), whose messages the
  outbox sends one at a time, in order; the same events/s.
- steady: Poisson arrivals at ``--rate`` events/s for ``--seconds``; per message, arrival at
  the receiver - the moment the emitting transaction committed: p50, p95, p99, max.

Reference, in the same run: the seeds' way (seed 004: ``curl -X POST $SLACK_WEBHOOK`` inline
at each step): the producer POSTs each event itself, synchronously, with a keep-alive
``httpx.Client`` (the same signed body through the same webhook plugin), no store, no
retries; the same burst and steady loads. Ratios: outbox events/s / direct events/s, and
the latency the outbox adds (p50 and p95 differences).

What the numbers do not show, durability: a direct POST made while the receiver is down, or
answering 5xx, is lost (the step logs an error and moves on), and a crash between the change
and the POST loses it too. The outbox writes the event in the transaction of the change, so
it exists exactly when the change does, and it is retried with backoff until the receiver
takes it (the same idempotency key on every attempt), then kept as a dead letter that can be
sent again. The cost is the latency measured here: mostly the worker's polling interval.

Prints a table and writes bench/results/notify.json. Ratios matter, not absolute times
(2 shared CPUs, noisy).
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
from rich.console import Console
from rich.table import Table

from rollgate.api.worker import NotifyWorker
from rollgate.engine.runtime import Runtime
from rollgate.notify import events
from rollgate.notify.channels.base import Attempt
from rollgate.notify.channels.webhook import SIGNATURE, TIMESTAMP, Webhook, sign
from rollgate.runs.service import Project
from rollgate.spec.models import Spec
from rollgate.spec.notify import WebhookChannel
from rollgate.store.db import Database
from rollgate.store.runs import now
from rollgate.testing import free_port

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET_ENV = "RG_BENCH_HOOK_SECRET"
ALONE = 200  # events emitted before the worker starts: the caller's cost without it


# -- the receiver (a separate process) ------------------------------------------------------

def serve_receiver(port: int) -> None:
    """Record each idempotency key's first arrival; check signatures; count duplicates."""
    import asyncio

    import uvloop
    from aiohttp import web

    key = os.environ.get(SECRET_ENV, "")
    arrivals: dict[str, float] = {}
    counts = {"duplicates": 0, "bad_signatures": 0, "unsigned": 0}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        at = time.monotonic()
        signature = request.headers.get(SIGNATURE)
        if signature is None:
            counts["unsigned"] += 1
        elif not hmac.compare_digest(signature, sign(key, request.headers[TIMESTAMP], body)):
            counts["bad_signatures"] += 1
        idem = request.headers.get("Idempotency-Key", "")
        if idem in arrivals:
            counts["duplicates"] += 1
        else:
            arrivals[idem] = at
        return web.Response(text="ok")

    async def report(_: web.Request) -> web.Response:
        return web.json_response({"arrivals": arrivals, **counts})

    async def reset(_: web.Request) -> web.Response:
        arrivals.clear()
        counts.update(dict.fromkeys(counts, 0))
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.add_routes([web.post("/hook", hook), web.get("/arrivals", report),
                        web.post("/reset", reset)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    uvloop.run(main())


class Receiver:
    """The receiver process on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/hook"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def __enter__(self) -> Receiver:
        self.proc = subprocess.Popen([sys.executable, __file__, "--receiver", str(self.port)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.http.get("/arrivals")
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("the receiver did not start")

    def __exit__(self, *_: object) -> None:
        self.http.close()
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(10)

    def cpu_seconds(self) -> float:
        """CPU time the receiver process has used so far (Linux /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self) -> None:
        """Forget what arrived."""
        self.http.post("/reset").raise_for_status()

    def report(self) -> dict[str, Any]:
        """Arrival times by idempotency key, and the counts."""
        answer: dict[str, Any] = self.http.get("/arrivals").json()
        return answer

    def wait_for(self, keys: set[str], timeout: float) -> dict[str, Any]:
        """Poll until every key arrived (or the time is up); the report."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.report()
            if keys <= got["arrivals"].keys() or time.monotonic() > deadline:
                return got
            time.sleep(0.1)


# -- the events ----------------------------------------------------------------------------

def make_spec(url: str) -> Spec:
    """One signed webhook channel and one route for every event."""
    return Spec.model_validate({
        "project": "bench",
        "services": {"web": {"command": "true", "port": 1}},
        "environments": {"production": {}},
        "notifications": {
            "channels": {"hook": {"type": "webhook", "url": url,
                                  "secret": f"${{{SECRET_ENV}}}"}},
            "routes": [{"events": ["*"], "channels": ["hook"]}],
        },
    })


def _fields(incident: str) -> list[tuple[str, str]]:
    return [("Severity", "SEV2"), ("Status", "investigating"), ("Service", "web"),
            ("Environment", "production"), ("By", "ana"), ("Incident", incident)]


def emit_one(db: Database, key: str, incident: str) -> None:
    """One incident update, written in its own transaction (as a timeline entry is)."""
    with db.session() as s:
        events.emit(s, kind="incident.updated", key=key, at=now(),
                    subject=f"[SEV2] {incident}: Checkout errors (investigating)",
                    text="Error rate back under 1% after the rollback; watching.",
                    fields=_fields(incident), environment="production", service="web",
                    level="SEV2", severity=2, public=True, refs={"incident": incident})


def direct_one(send: Callable[[dict[str, Any], str], None], key: str, incident: str) -> None:
    """The same update POSTed at once, as the seeds do: no store, no retry."""
    event = {"key": key, "kind": "incident.updated", "at": now().isoformat(),
             "subject": f"[SEV2] {incident}: Checkout errors (investigating)",
             "environment": "production", "service": "web", "level": "SEV2", "severity": 2,
             "public": True, "text": "Error rate back under 1% after the rollback; watching.",
             "fields": [list(f) for f in _fields(incident)], "refs": {"incident": incident}}
    send(event, f"rollgate:{key}:hook")


def direct_sender(spec: Spec, client: httpx.Client) -> Callable[[dict[str, Any], str], None]:
    """POST an event through the webhook plugin (same body, headers and signature)."""
    config = cast(WebhookChannel, spec.notifications.channels["hook"])
    plugin = Webhook()

    def send(event: dict[str, Any], idem: str) -> None:
        payload = plugin.render(event, config)
        assert payload is not None
        plugin.send(payload, config, Attempt(channel="hook", idempotency_key=idem,
                                             timeout=10.0, client=client))

    return send


# -- the loads -----------------------------------------------------------------------------

@dataclass
class Load:
    """What a producer did: when each event left the caller (the emit transaction
    committed; for the direct path, the POST began) and how long the caller was held."""

    started: float = 0.0
    committed: dict[str, float] = field(default_factory=dict)
    held_ms: list[float] = field(default_factory=list)
    lost: int = 0


Emit = Callable[[str, str], None]


@dataclass(frozen=True)
class Way:
    """How a producer hands an event on; ``counts_from_start``: latency counts from the
    call's start (a direct POST) instead of its return (the committed emit)."""

    emit: Emit
    counts_from_start: bool


def _one(way: Way, load: Load, key: str, incident: str) -> None:
    began = time.monotonic()
    try:
        way.emit(key, incident)
    except Exception:  # the direct path has no retry: a failed POST is lost
        load.lost += 1
        return
    done = time.monotonic()
    load.committed[key] = began if way.counts_from_start else done
    load.held_ms.append((done - began) * 1000)


def burst(way: Way, prefix: str, n: int, incident: Callable[[int], str]) -> Load:
    """n events at full speed from a producer thread."""
    load = Load()

    def produce() -> None:
        load.started = time.monotonic()
        for i in range(n):
            _one(way, load, f"{prefix}-{i}", incident(i))

    t = threading.Thread(target=produce)
    t.start()
    t.join()
    return load


def steady(way: Way, prefix: str, rate: float, seconds: float, seed: int) -> Load:
    """Poisson arrivals at ``rate`` per second for ``seconds``, each on its own thread."""
    load = Load()
    rng = random.Random(seed)

    def produce() -> None:
        load.started = time.monotonic()
        due, i = load.started + rng.expovariate(rate), 0
        while due < load.started + seconds:
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            _one(way, load, f"{prefix}-{i}", f"INC-{prefix}-{i}")
            due, i = due + rng.expovariate(rate), i + 1

    t = threading.Thread(target=produce)
    t.start()
    t.join()
    return load


def _pct(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2), "p99_ms": round(q[98], 2),
            "max_ms": round(max(values), 2)}


def result(kind: str, load: Load, got: dict[str, Any], idem: Callable[[str], str]
           ) -> dict[str, Any]:
    """Throughput or latency numbers from a load and what the receiver recorded."""
    arrivals = got["arrivals"]
    keys = {k: idem(k) for k in load.committed}
    missing = [k for k, i in keys.items() if i not in arrivals]
    out: dict[str, Any] = {"load": kind, "events": len(load.committed) + load.lost,
                           "delivered": len(keys) - len(missing), "lost": load.lost,
                           "missing": len(missing), "duplicates": got["duplicates"],
                           "bad_signatures": got["bad_signatures"],
                           "unsigned": got["unsigned"],
                           "caller_held": _pct(load.held_ms)}
    if missing:
        return out
    last = max(arrivals[i] for i in keys.values())
    out["seconds"] = round(last - load.started, 3)
    out["events_per_s"] = round(len(keys) / (last - load.started), 1)
    out["latency"] = _pct([(arrivals[i] - load.committed[k]) * 1000 for k, i in keys.items()])
    return out


# -- the two ways --------------------------------------------------------------------------

def _measure_loads(way: Way, store: str, path: str, receiver: Receiver,
                   args: argparse.Namespace, one_incident: bool) -> list[dict[str, Any]]:
    """A warm-up, then the burst, the one-incident burst (outbox only) and the steady load;
    a row each."""
    rows: list[dict[str, Any]] = []

    def idem(key: str) -> str:
        return f"rollgate:{key}:hook"

    def run(kind: str, produce: Callable[[], Load]) -> None:
        receiver.reset()
        cpu = receiver.cpu_seconds()
        load = produce()
        got = receiver.wait_for({idem(k) for k in load.committed}, args.drain)
        row = {"store": store, "path": path, **result(kind, load, got, idem)}
        row["receiver_cpu_ms_per_event"] = round(
            (receiver.cpu_seconds() - cpu) * 1000 / max(row["delivered"], 1), 3)
        rows.append(row)

    tag = f"{store}-{path.split()[0]}"
    warm = burst(way, f"{tag}-warm", 50, lambda i: f"INC-warm-{i}")
    receiver.wait_for({idem(k) for k in warm.committed}, args.drain)
    run("burst", lambda: burst(way, f"{tag}-burst", args.events, lambda i: f"INC-b{i}"))
    if one_incident:
        run("one incident", lambda: burst(way, f"{tag}-one", args.thread_events,
                                          lambda i: "INC-busy"))
    run("steady", lambda: steady(way, f"{tag}-steady", args.rate, args.seconds, args.seed))
    return rows


class _Host:
    """What ``NotifyWorker`` uses of a Runtime: the store and this process's id."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.executor_id = "bench-notify"


def outbox_rows(url: str, store: str, receiver: Receiver, args: argparse.Namespace
                ) -> list[dict[str, Any]]:
    """The outbox on one store, delivered by the server's real notify worker."""
    db = Database(url)
    db.migrate()
    project = Project(spec=make_spec(receiver.url), spec_dir=Path(tempfile.gettempdir()))
    way = Way(lambda key, inc: emit_one(db, key, inc), False)
    # The caller's cost with no worker in its process (a CLI run), for the rows' comparison.
    alone = burst(way, f"{store}-alone", ALONE, lambda i: f"INC-alone-{i}")
    worker = NotifyWorker(cast(Runtime, _Host(db)), lambda: project)
    worker.start()
    try:
        receiver.wait_for({f"rollgate:{k}:hook" for k in alone.committed}, args.drain)
        rows = _measure_loads(way, store, "outbox", receiver, args, one_incident=True)
    finally:
        worker.stop()
        db.dispose()
    for row in rows:  # the first tenth warmed the pool and SQLAlchemy's statement cache
        row["caller_held_no_worker"] = _pct(alone.held_ms[ALONE // 10:])
    return rows


def direct_rows(receiver: Receiver, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The reference: each event POSTed by the producer itself, synchronously."""
    with httpx.Client() as client:
        send = direct_sender(make_spec(receiver.url), client)
        return _measure_loads(Way(lambda key, inc: direct_one(send, key, inc), True), "none",
                              "direct POST", receiver, args, one_incident=False)


# -- the run -------------------------------------------------------------------------------

def _pg_database() -> str | None:
    try:
        import psycopg

        name = f"rg_bench_notify_{secrets.token_hex(3)}"
        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return name
    except Exception:  # no PostgreSQL here: the SQLite rows are still measured
        return None


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every store's outbox rows and the direct reference, against one receiver."""
    os.environ[SECRET_ENV] = secrets.token_urlsafe(24)
    load_before = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    with Receiver() as receiver, tempfile.TemporaryDirectory(prefix="rg-bench-notify-") as tmp:
        rows += direct_rows(receiver, args)
        rows += outbox_rows(f"sqlite:///{tmp}/store.db", "sqlite", receiver, args)
        pg = _pg_database() if not args.no_postgres else None
        if pg:
            try:
                rows += outbox_rows(f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg}",
                                    "postgresql", receiver, args)
            finally:
                _drop(pg)
    return {"events": args.events, "thread_events": args.thread_events, "rate": args.rate,
            "seconds": args.seconds, "cpus": os.cpu_count(),
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "results": rows, "ratios": ratios(rows)}


def ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per store: outbox events/s / direct events/s, and the latency the outbox adds."""
    by = {(r["store"], r["load"]): r for r in rows}
    ref_burst, ref_steady = by.get(("none", "burst")), by.get(("none", "steady"))
    out: dict[str, Any] = {}
    for store in ("sqlite", "postgresql"):
        mine, steady_row = by.get((store, "burst")), by.get((store, "steady"))
        if not (mine and ref_burst and steady_row and ref_steady) or "latency" not in mine \
                or "latency" not in steady_row:
            continue
        out[store] = {
            "throughput_ratio": round(mine["events_per_s"] / ref_burst["events_per_s"], 3),
            "adds_p50_ms": round(steady_row["latency"]["p50_ms"]
                                 - ref_steady["latency"]["p50_ms"], 2),
            "adds_p95_ms": round(steady_row["latency"]["p95_ms"]
                                 - ref_steady["latency"]["p95_ms"], 2),
            "caller_held_p50_ratio": round(mine["caller_held"]["p50_ms"]
                                           / ref_burst["caller_held"]["p50_ms"], 3),
            "caller_held_no_worker_p50_ratio": round(
                mine["caller_held_no_worker"]["p50_ms"] / ref_burst["caller_held"]["p50_ms"],
                3)}
    return out


def _print(res: dict[str, Any]) -> None:
    table = Table(title=f"notifications: the outbox vs a direct POST per event "
                        f"(burst {res['events']} events, one incident {res['thread_events']}, "
                        f"steady {res['rate']:g}/s for {res['seconds']:g} s; "
                        f"{res['cpus']} CPUs)")
    for col in ("store", "path", "load", "delivered", "events/s", "x direct", "p50 ms",
                "p95 ms", "p99 ms", "max ms", "adds p50", "adds p95", "caller held p50 ms",
                "receiver CPU ms/event", "dup/bad sig"):
        table.add_column(col, justify="right")
    ref = {r["load"]: r for r in res["results"] if r["path"] != "outbox"}
    for r in res["results"]:
        base = ref.get(r["load"]) if r["path"] == "outbox" else None
        cells = [""] * 8
        if "events_per_s" in r and r["load"] != "steady":
            cells[0] = f"{r['events_per_s']:.0f}"
            if base and "events_per_s" in base:
                cells[1] = f"{r['events_per_s'] / base['events_per_s']:.2f}"
        if "latency" in r and r["load"] == "steady":
            lat = r["latency"]
            cells[2:6] = [f"{lat[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
            if base and "latency" in base:
                cells[6:8] = [f"{lat[k] - base['latency'][k]:+.1f}" for k in ("p50_ms", "p95_ms")]
        table.add_row(r["store"], r["path"], r["load"], f"{r['delivered']}/{r['events']}",
                      *cells, f"{r['caller_held']['p50_ms']:.2f}",
                      f"{r['receiver_cpu_ms_per_event']:.2f}",
                      f"{r['duplicates']}/{r['bad_signatures']}")
    console = Console(width=max(Console().width, 180))
    console.print(table)
    console.print(f"load average {res['loadavg_1m'][0]} before, {res['loadavg_1m'][1]} after")
    for store, r in res["ratios"].items():
        console.print(f"{store}: outbox/direct throughput {r['throughput_ratio']:.2f}x; the "
                      f"outbox adds {r['adds_p50_ms']:+.1f} ms at p50, {r['adds_p95_ms']:+.1f} "
                      f"ms at p95; the caller is held {r['caller_held_p50_ratio']:.2f}x as "
                      "long per event (an emit transaction instead of a POST), "
                      f"{r['caller_held_no_worker_p50_ratio']:.2f}x with no worker in its "
                      "process")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=2000, help="events in a burst")
    parser.add_argument("--thread-events", type=int, default=200,
                        help="events in the one-incident burst")
    parser.add_argument("--rate", type=float, default=50.0, help="steady events per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady load's length")
    parser.add_argument("--drain", type=float, default=60.0,
                        help="seconds to wait for the last deliveries")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "notify.json")
    args = parser.parse_args(argv)
    if args.receiver:
        serve_receiver(args.receiver)
        return 0
    logging.basicConfig(level=logging.WARNING)
    res = measure(args)
    _print(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "notify", **res}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
