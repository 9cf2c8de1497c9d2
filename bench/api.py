"""API latency with 100,000 runs in PostgreSQL: ``rollgate serve`` vs the same store reads.

Fills a fresh PostgreSQL database (COPY) with runs spread over a year on 25 services x 4
environments, each with the steps its strategy journals (5 to 15, about 1M step rows) and,
for canaries, its analysis-check records. Then starts a real ``rollgate serve`` on that
database and drives it with concurrent HTTP clients (httpx, one keep-alive connection
each), endpoint by endpoint:

    list      GET /api/runs                                  (newest 50)
    filtered  GET /api/runs?service=S&environment=E          (newest 50 of one target)
    detail    GET /api/runs/{id}                             (a random run, steps, checks)

In the same run, the reference does the same reads straight through the store
(SQLAlchemy, the same functions and connection pool the route uses) from as many threads,
without HTTP, FastAPI or JSON: the difference is what the API adds.

Two loads per endpoint, both with 50 clients:

- closed loop: each client sends its next request the moment the answer arrives. This
  measures capacity (requests per second); its latency is 50 / throughput by Little's law,
  whatever a request costs, so it has no latency goal. On these 2-CPU machines even the
  reference (the store alone, no HTTP) sits near 50 ms there.
- polling: each client sends a request every 500 ms on average (Poisson), like 50 people
  with dashboards open or 50 CI jobs following their runs (100 requests/s in all).
  Latency counts from when a request was due, so a slow answer that delays the next one
  is not hidden (no coordinated omission). The goal, p95 < 50 ms, applies to this load;
  docs/decisions/0006-api-latency-goal.md says why.

Prints a table and writes bench/results/api.json. Needs PostgreSQL on 127.0.0.1:5432
(user postgres, trust auth).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from rollgate.runs.views import run_dict
from rollgate.store import checks as check_store
from rollgate.store import runs as run_store
from rollgate.store.db import Database
from rollgate.targets.local.processes import free_port

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
GOAL_P95_MS = 50.0
SERVICES = [f"svc-{n:02d}" for n in range(25)]
ENVIRONMENTS = ["dev", "staging", "production", "edge"]
SPEC = {"project": "bench",
        "services": {"web": {"command": "true", "port": 1}},
        "environments": {"production": {}}}
# A run keeps a snapshot of the spec it started with: about 1.5 KB of JSON, like a real one.
SNAPSHOT = json.dumps({
    "project": "shop",
    "services": {name: {"command": "{python} -m shop.server --port {port} --version {version}",
                        "port": 8000 + i, "replicas": 3,
                        "health": {"path": "/health", "interval": "1s", "retries": 30},
                        "checks": [{"name": "home", "http": {"path": "/", "expect": 200}}]}
                 for i, name in enumerate(SERVICES[:4])},
    "environments": {env: {"strategy": {"kind": "blue-green", "keep_warm": "10m"},
                           "auto_rollback": True, "require_reason": env == "production"}
                     for env in ENVIRONMENTS},
})
STRATEGIES = ["blue-green", "rolling", "canary", "recreate"]
STATUSES = (["succeeded"] * 85 + ["failed"] * 7 + ["rolled_back"] * 6 + ["cancelled"] * 2)
RUN_COLUMNS = ("id", "kind", "service", "environment", "version", "from_version", "strategy",
               "status", "reason", "actor", "executor_id", "spec", "spec_dir",
               "cancel_requested", "params", "error", "created_at", "started_at",
               "finished_at")
STEP_COLUMNS = ("run_id", "seq", "name", "state", "attempts", "started_at", "finished_at",
                "duration_ms", "output", "error")
CHECK_COLUMNS = ("run_id", "seq", "at", "analysis", "name", "kind", "metric", "verdict",
                 "observed", "threshold", "baseline", "samples", "baseline_samples",
                 "statistic", "statistic_value", "p_value", "summary")
CHECKS_PER_CANARY = 24


# -- the data ---------------------------------------------------------------------------------

def step_names(kind: str, strategy: str, version: str, previous: str) -> list[str]:
    """The steps a run of this kind and strategy journals, in order."""
    if kind == "rollback":
        return ["plan", f"verify {previous}", f"switch traffic to {version}",
                "post-rollback checks", f"mark {version} live"]
    data = ["check migration plan main", "back up main", "migrate main"]
    if strategy == "recreate":
        body = [f"stop {previous}", f"start {version} (replica 0)", f"health-check {version}",
                f"switch traffic to {version}"]
    elif strategy == "rolling":
        body = [f"{what} {version} (replica {r})" for r in range(3)
                for what in ("start", "health-check", "route to")]
    elif strategy == "canary":
        body = [f"start {version} (replica 0)", f"health-check {version}",
                *(f"{what} {pct}%" for pct in (10, 50, 100) for what in ("weight", "analyze"))]
    else:
        body = [f"start {version} (replica 0)", f"health-check {version}",
                f"switch traffic to {version}", f"keep {previous} warm"]
    return ["plan", *data, *body, "post-deploy checks", f"mark {version} live"]


def run_rows(n: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]],
                                                 list[tuple[Any, ...]]]]:
    """n runs, oldest first, each with its steps and (canaries) its check records."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    gap = timedelta(days=365) / n
    for i in range(n):
        created = start + gap * i
        service, env = rng.choice(SERVICES), rng.choice(ENVIRONMENTS)
        kind = "rollback" if rng.random() < 0.08 else "deploy"
        strategy = rng.choice(STRATEGIES)
        status = rng.choice(STATUSES)
        version, previous = f"v1.{i // 1000}.{i % 1000}", f"v1.{i // 1000}.{max(i % 1000 - 1, 0)}"
        names = step_names(kind, strategy, version, previous)
        failed_at = rng.randrange(1, len(names)) if status != "succeeded" else len(names)
        error = f"{names[failed_at]} failed: HTTP 503 from /health" \
            if status != "succeeded" else None
        run_id = f"run-{created:%Y%m%d-%H%M%S}-{i % 65536:04x}"
        steps, at = [], created + timedelta(seconds=1)
        for seq, name in enumerate(names[:failed_at + 1], start=1):
            ms = rng.randint(5, 4000)
            state = "failed" if seq == failed_at + 1 and error else "succeeded"
            steps.append((run_id, seq, name, state, 1, at, at + timedelta(milliseconds=ms),
                          ms, f"{name}: ok after {ms} ms", error if state == "failed" else None))
            at += timedelta(milliseconds=ms + 20)
        checks = []
        if strategy == "canary" and kind == "deploy":
            for k in range(CHECKS_PER_CANARY):
                observed = rng.random() * 0.02
                checks.append((run_id, 6 + 2 * (k % 3), created + timedelta(seconds=10 + k),
                               "golden-signals", "error-rate", "threshold", "error_rate",
                               "pass", observed, 0.05, observed * 0.9, 400 + k, 3600 + k,
                               None, None, None,
                               f"error_rate canary {observed:.2%} vs 5.00% threshold: pass"))
        run = (run_id, kind, service, env, version, previous if i else None, strategy, status,
               "5xx spike" if kind == "rollback" else None, f"user{i % 40}@example.com",
               "serve-bench", SNAPSHOT, "/srv/shop", False, "{}", error, created,
               created + timedelta(seconds=1), at)
        yield run, steps, checks


def fill(url: str, n: int, seed: int) -> dict[str, Any]:
    """Migrate the schema and COPY n runs with their steps and checks; then VACUUM ANALYZE."""
    store = Database(url)
    store.migrate()
    store.dispose()
    counts = {"runs": 0, "steps": 0, "analysis_checks": 0}
    started = time.perf_counter()
    steps: list[tuple[Any, ...]] = []
    checks: list[tuple[Any, ...]] = []
    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY runs ({', '.join(RUN_COLUMNS)}) FROM STDIN") as copy:
            for run, run_steps, run_checks in run_rows(n, seed):
                copy.write_row(run)
                steps.extend(run_steps)
                checks.extend(run_checks)
        for table, cols, rows in (("steps", STEP_COLUMNS, steps),
                                  ("analysis_checks", CHECK_COLUMNS, checks)):
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            counts[table] = len(rows)
        counts["runs"] = n
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {**counts, "fill_s": round(time.perf_counter() - started, 1)}


# -- the server -------------------------------------------------------------------------------

class Server:
    """``rollgate serve`` on a free port over the bench database."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder = folder
        self.url = url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        (self.folder / "rollgate.yaml").write_text(json.dumps(SPEC))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLGATE_")}
        env.update(ROLLGATE_SPEC=str(self.folder / "rollgate.yaml"),
                   ROLLGATE_DATABASE_URL=self.url)
        log = (self.folder / "serve.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "rollgate", "serve", "--port",
                                      str(self.port)], env=env, cwd=self.folder,
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"rollgate serve exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/api/health").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit(f"rollgate serve did not answer:\n{self.log()}")

    def __exit__(self, *_: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        """What the server printed."""
        return (self.folder / "serve.log").read_text(errors="replace")


# -- the load ---------------------------------------------------------------------------------

Request = Callable[[random.Random], str]
Read = Callable[[random.Random], Any]


def http_paths(run_ids: list[str]) -> dict[str, Request]:
    """Each measured endpoint: a function that picks the next request path."""
    return {
        "list": lambda rng: "/api/runs",
        "filtered": lambda rng: (f"/api/runs?service={rng.choice(SERVICES)}"
                                 f"&environment={rng.choice(ENVIRONMENTS)}"),
        "detail": lambda rng: f"/api/runs/{rng.choice(run_ids)}",
    }


def store_reads(store: Database, run_ids: list[str]) -> dict[str, Read]:
    """The same reads as the routes, straight through the store (no HTTP, no JSON)."""

    def listing(**filters: str) -> list[dict[str, Any]]:
        with store.read() as s:
            rows = run_store.list_runs(session=s, limit=51, offset=0, **filters)
            return [run_dict(r) for r in rows]

    def detail(run_id: str) -> dict[str, Any]:
        with store.read() as s:
            run = run_store.get_run(session=s, run_id=run_id)
            steps = run_store.list_steps(session=s, run_id=run_id)
            return run_dict(run, steps, check_store.for_run(session=s, run_id=run_id))

    return {
        "list": lambda rng: listing(),
        "filtered": lambda rng: listing(service=rng.choice(SERVICES),
                                        environment=rng.choice(ENVIRONMENTS)),
        "detail": lambda rng: detail(rng.choice(run_ids)),
    }


async def _get(http: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET, once more on a fresh connection when the server closed an idle one just then
    (uvicorn drops keep-alive connections idle for 5 s; paced clients can be idle longer)."""
    try:
        return await http.get(path)
    except httpx.RemoteProtocolError:
        return await http.get(path)


async def _http_load(base: str, path: Request, clients: int, warmup: float, seconds: float,
                     headers: dict[str, str], rate: float | None = None
                     ) -> tuple[list[float], int]:
    """Clients for warmup + seconds; latencies (ms) after the warm-up, and non-200 answers.

    Closed loop (``rate`` None): each client sends its next request when the answer comes.
    Paced (``rate`` requests/s in all): each client sends at ``rate / clients`` per second,
    at random (Poisson) times, and a latency counts from when the request was due, so a
    slow answer that delays the next request is not hidden (no coordinated omission).
    """
    latencies: list[float] = []
    errors = 0
    # Clients connect first (an httpx client takes a while to build), then the clock starts.
    https = [httpx.AsyncClient(base_url=base, timeout=30, headers=headers)
             for _ in range(clients)]
    await asyncio.gather(*(http.get("/api/health") for http in https))
    begin = time.perf_counter()
    measure_from, stop_at = begin + warmup, begin + warmup + seconds

    async def client(n: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        rng = random.Random(n)
        due = begin + (rng.expovariate(rate / clients) if rate else 0.0)
        while due < stop_at:
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            start = due if rate else time.perf_counter()
            resp = await _get(http, path(rng))
            done = time.perf_counter()
            if resp.status_code != 200:
                errors += 1
            elif start >= measure_from:
                latencies.append((done - start) * 1000)
            due = due + rng.expovariate(rate / clients) if rate else done

    try:
        await asyncio.gather(*(client(n, http) for n, http in enumerate(https)))
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    return latencies, errors


def _store_load(read: Read, clients: int, warmup: float, seconds: float) -> list[float]:
    """The same closed loop with threads calling the store directly."""
    latencies: list[float] = []
    lock = threading.Lock()
    begin = time.perf_counter()
    measure_from, stop_at = begin + warmup, begin + warmup + seconds

    def client(n: int) -> None:
        rng, mine = random.Random(n), []
        while (now := time.perf_counter()) < stop_at:
            read(rng)
            if now >= measure_from:
                mine.append((time.perf_counter() - now) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    """p50, p95, p99 (ms) and requests per second."""
    if len(latencies) < 20:
        raise SystemExit(f"only {len(latencies)} requests finished: too few for percentiles")
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2), "p99_ms": round(q[98], 2),
            "requests": len(latencies), "rps": round(len(latencies) / seconds, 1)}


# -- the run ----------------------------------------------------------------------------------

CLIENTS = 50  # the goal's number of concurrent clients
PATHS = {"list": "GET /api/runs", "filtered": "GET /api/runs?service=S&environment=E",
         "detail": "GET /api/runs/{id}"}


def viewer_token(base: str) -> dict[str, str]:
    """Headers with a viewer's API token, as a team's clients send them.

    The first user is created while the server is in open mode; without the accounts API
    (an older server) the load runs unauthenticated.
    """
    password = secrets.token_urlsafe(16)
    with httpx.Client(base_url=base, timeout=30) as http:
        resp = http.post("/api/users", json={"name": "bench", "password": password,
                                             "role": "viewer", "environment": "*"})
        if resp.status_code == 404:
            return {}
        resp.raise_for_status()
        resp = http.post("/api/auth/token", json={"username": "bench", "password": password,
                                                  "name": "bench"})
        resp.raise_for_status()
        return {"Authorization": f"Bearer {resp.json()['token']}"}


def _api_rows(server: Server, run_ids: list[str], args: argparse.Namespace
              ) -> list[dict[str, Any]]:
    """Every endpoint: 1 client, 50 closed-loop (capacity), 50 polling (the goal's load)."""
    headers = viewer_token(server.base)
    rows: list[dict[str, Any]] = []

    def one(endpoint: str, clients: int, rate: float | None) -> dict[str, Any]:
        path = http_paths(run_ids)[endpoint]
        lat, errors = asyncio.run(_http_load(server.base, path, clients, args.warmup,
                                             args.seconds, headers, rate))
        if errors:
            raise SystemExit(f"{endpoint}: {errors} non-200 answers\n{server.log()[-3000:]}")
        row = {"endpoint": endpoint, "via": "api", "clients": clients,
               "load": "paced" if rate else "closed", "offered_rps": rate,
               "auth": "token" if headers else "open", **summary(lat, args.seconds)}
        rows.append(row)
        return row

    for endpoint in PATHS:
        one(endpoint, 1, None)
        one(endpoint, CLIENTS, None)
        one(endpoint, CLIENTS, CLIENTS / args.poll)
    return rows


def _store_rows(url: str, run_ids: list[str], args: argparse.Namespace
                ) -> list[dict[str, Any]]:
    """The reference: the same reads through the store, 1 and 50 closed-loop threads."""
    store = Database(url)
    rows = []
    try:
        for endpoint, read in store_reads(store, run_ids).items():
            for clients in (1, CLIENTS):
                lat = _store_load(read, clients, args.warmup, args.seconds)
                rows.append({"endpoint": endpoint, "via": "store", "clients": clients,
                             "load": "closed", "offered_rps": None,
                             **summary(lat, args.seconds)})
    finally:
        store.dispose()
    return rows


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Fill a fresh database, then measure the API and the reference; drop the database."""
    name = f"rg_bench_api_{secrets.token_hex(3)}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        data = fill(url, args.runs, args.seed)
        Console().print(f"database {name}: {data['runs']:,} runs, {data['steps']:,} steps, "
                        f"{data['analysis_checks']:,} check records in {data['fill_s']} s")
        run_ids = [r[0][0] for r in run_rows(args.runs, args.seed)]
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="rg-bench-api-") as tmp, \
                Server(Path(tmp), url) as server:
            rows = _api_rows(server, run_ids, args)
        rows += _store_rows(url, run_ids, args)
        return {"database": name, **data, "seconds": args.seconds, "warmup": args.warmup,
                "clients": CLIENTS, "goal_p95_ms": GOAL_P95_MS, "cpus": os.cpu_count(),
                "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "results": rows}
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _load_label(row: dict[str, Any]) -> str:
    if row["load"] == "paced":
        every = row["clients"] / row["offered_rps"] * 1000
        return f"{row['clients']} polling every {every:.0f} ms"
    return f"{row['clients']} closed-loop" if row["clients"] > 1 else "1 client"


def _print(result: dict[str, Any]) -> None:
    store = {(r["endpoint"], r["clients"]): r for r in result["results"] if r["via"] == "store"}
    table = Table(title=f"API latency (ms), {result['runs']:,} runs / {result['steps']:,} steps "
                        f"in PostgreSQL, {result['seconds']:.0f} s per row, "
                        f"{result['cpus']} CPUs shared by server, clients and PostgreSQL")
    for col in ("endpoint", "clients", "p50", "p95", "p99", "req/s", "store p50",
                "store p95", "store req/s", "API adds p50", f"goal p95 < {GOAL_P95_MS:.0f}"):
        table.add_column(col, justify="right")
    for row in (r for r in result["results"] if r["via"] == "api"):
        ref = store.get((row["endpoint"], row["clients"])) if row["load"] == "closed" else None
        goal = "" if row["load"] != "paced" else (
            "ok" if row["p95_ms"] < GOAL_P95_MS else "MISSED")
        table.add_row(PATHS[row["endpoint"]], _load_label(row), f"{row['p50_ms']:.1f}",
                      f"{row['p95_ms']:.1f}", f"{row['p99_ms']:.1f}", f"{row['rps']:.0f}",
                      *((f"{ref['p50_ms']:.1f}", f"{ref['p95_ms']:.1f}", f"{ref['rps']:.0f}",
                         f"{row['p50_ms'] - ref['p50_ms']:+.1f}") if ref else ("",) * 4),
                      goal)
    Console(width=max(Console().width, 190)).print(table)
    auth = next((r["auth"] for r in result["results"] if r["via"] == "api"), "?")
    Console().print(f"requests carry a viewer's API token ({auth}); load average "
                    f"{result['loadavg_1m'][0]} before, {result['loadavg_1m'][1]} after")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured per row")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--poll", type=float, default=0.5,
                        help="seconds between a polling client's requests, on average")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "api.json")
    args = parser.parse_args(argv)
    result = measure(args)
    _print(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "api", **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
