"""Backup and restore on PostgreSQL: rollgate's engine vs the plain tools, same run, same data.

Fills a fresh database with pgbench (scale 14 is about 200 MB), then, alternating which goes
first and repeated (median of the rounds):

    backup   plain ``pg_dump -Fc -f FILE``
             vs rollgate's catalog: ``catalog.create`` (dump hashed while it streams, the
             engine's check, the .meta.json and the catalog row), what `rollgate backup
             create` does after its start-up
    restore  plain ``pg_restore --clean --if-exists --no-owner -d DB FILE``
             vs rollgate's catalog: ``catalog.restore`` (size and sha256 re-checked, then
             one transaction that also drops the tables created since the backup)

Prints a table and writes bench/results/backup.json. The goal is rollgate/plain <= 1.10.
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and pgbench.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from rollgate.data import catalog
from rollgate.data.engines import PostgresEngine
from rollgate.data.target import DataTarget
from rollgate.spec.data import Database as DatabaseConfig
from rollgate.store.db import Database

HOST, PORT, USER = "127.0.0.1", "5432", "postgres"
ADMIN = f"postgresql://{USER}@{HOST}:{PORT}/postgres"
GOAL = 1.10
CONNECT = ["-h", HOST, "-p", PORT, "-U", USER]
# ratio name -> (rollgate's time, the plain tool's time)
PAIRS = {"backup": ("rollgate_backup", "plain_backup"),
         "backup_same_level": ("rollgate_backup", "plain_same_level_backup"),
         "restore": ("rollgate_restore", "plain_restore")}


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.encode())


def _size_mb(name: str) -> float:
    with psycopg.connect(ADMIN) as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    assert row is not None
    return float(row[0]) / 1e6


def _rows(name: str) -> int:
    with psycopg.connect(f"postgresql://{USER}@{HOST}:{PORT}/{name}") as conn:
        row = conn.execute("SELECT count(*) FROM pgbench_accounts").fetchone()
    assert row is not None
    return int(row[0])


def _settle(name: str) -> None:
    """Vacuum, analyze and checkpoint, so autovacuum and the checkpointer do not run during
    the next round's timings (the restores leave freshly loaded tables behind)."""
    with psycopg.connect(f"postgresql://{USER}@{HOST}:{PORT}/{name}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def one_round(db: str, engine: PostgresEngine, folder: Path, plain_first: bool,
              store: Database, target: DataTarget) -> dict[str, float]:
    """Both backups, then both restores (each its own file); seconds per step."""
    plain_file = folder / "plain.dump"
    times: dict[str, float] = {}
    made: list[Path] = []
    ids: list[str] = []

    def plain_backup() -> None:
        times["plain_backup"] = _timed(lambda: _run("pg_dump", "-Fc", "-f", str(plain_file),
                                                    *CONNECT, db))

    def plain_backup_same_level() -> None:
        same = folder / "plain-same-level.dump"
        times["plain_same_level_backup"] = _timed(lambda: _run(
            "pg_dump", "-Fc", f"-Z{engine.compress}", "-f", str(same), *CONNECT, db))
        times["plain_same_level_file_mb"] = same.stat().st_size / 1e6
        same.unlink()

    def rollgate_backup() -> None:
        started = time.perf_counter()
        row = catalog.create(store, target, actor="bench", reason="bench")
        times["rollgate_backup"] = time.perf_counter() - started
        made.append(Path(row.location))
        ids.append(row.id)

    def plain_restore() -> None:
        times["plain_restore"] = _timed(lambda: _run(
            "pg_restore", "--clean", "--if-exists", "--no-owner", "-d", db, *CONNECT,
            str(plain_file)))

    def rollgate_restore() -> None:
        times["rollgate_restore"] = _timed(lambda: catalog.restore(store, target, ids[-1]))

    backups = [plain_backup, rollgate_backup, plain_backup_same_level]
    restores = [plain_restore, rollgate_restore]
    if not plain_first:
        backups.reverse()
        restores.reverse()
    for step in (*backups, *restores):
        step()
    times["plain_file_mb"] = plain_file.stat().st_size / 1e6
    times["rollgate_file_mb"] = made[-1].stat().st_size / 1e6
    plain_file.unlink()
    target.storage().delete(made[-1])
    return times


def measure(scale: int, rounds: int) -> dict[str, Any]:
    """Create and fill a database, time the rounds, drop the database."""
    db = f"rg_bench_backup_{secrets.token_hex(3)}"
    _admin(f'CREATE DATABASE "{db}"')
    try:
        fill = _timed(lambda: _run("pgbench", "-i", "-q", "-s", str(scale), *CONNECT, db))
        size_mb = _size_mb(db)
        Console().print(f"database {db}: pgbench scale {scale}, {size_mb:.0f} MB "
                        f"(pg_database_size), filled in {fill:.1f} s")
        url = f"postgresql://{USER}@{HOST}:{PORT}/{db}"
        engine = PostgresEngine(url)
        samples: list[dict[str, float]] = []
        with tempfile.TemporaryDirectory(prefix="rg-bench-backup-") as tmp:
            store = Database(f"sqlite:///{Path(tmp) / 'store.db'}")
            store.migrate()
            target = DataTarget(name="bench", environment="bench",
                                config=DatabaseConfig(engine="postgres", url=url), url=url,
                                spec_dir=Path(tmp), state_dir=Path(tmp))
            for n in range(rounds):
                _settle(db)
                samples.append(one_round(db, engine, Path(tmp), n % 2 == 0, store, target))
                if _rows(db) != scale * 100_000:
                    raise SystemExit("the restored database lost rows")
            store.dispose()
        median = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
        paired = {name: round(statistics.median(s[ours] / s[theirs] for s in samples), 3)
                  for name, (ours, theirs) in PAIRS.items()}
        return {"database": db, "scale": scale, "database_mb": round(size_mb, 1),
                "rounds": rounds, "goal": GOAL,
                "median_s": {k: round(v, 3) for k, v in median.items()},
                "samples_s": [{k: round(v, 3) for k, v in s.items()} for s in samples],
                "compress": engine.compress,
                "ratio": {name: round(median[ours] / median[theirs], 3)
                          for name, (ours, theirs) in PAIRS.items()},
                "paired_ratio_median": paired}
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _print(result: dict[str, Any]) -> None:
    m, ratio, z = result["median_s"], result["ratio"], result["compress"]
    table = Table(title=f"PostgreSQL backup/restore, {result['database_mb']:.0f} MB, "
                        f"median of {result['rounds']} rounds")
    for col in ("step", "plain s", "rollgate s", "rollgate/plain", "goal", "rollgate parts"):
        table.add_column(col, justify="right")
    backup_parts = f"pg_dump -Z{z} hashed + full read check + meta + row"
    rows = (("backup (plain: pg_dump -Fc)", "backup", "plain_backup", backup_parts),
            (f"backup (plain: pg_dump -Fc -Z{z})", "backup_same_level",
             "plain_same_level_backup", backup_parts),
            ("restore", "restore", "plain_restore",
             "size + sha256, then one transaction"))
    for label, name, plain, parts in rows:
        ours = PAIRS[name][0]
        verdict = "ok" if ratio[name] <= GOAL else "MISSED"
        table.add_row(label, f"{m[plain]:.2f}", f"{m[ours]:.2f}", f"{ratio[name]:.3f}",
                      f"<= {GOAL} {verdict}", parts)
    Console().print(table)
    paired = ", ".join(f"{k} {v:.3f}" for k, v in result["paired_ratio_median"].items())
    Console().print(f"median of the per-round ratios: {paired}")
    Console().print(f"dump files: plain {m['plain_file_mb']:.1f} MB, plain -Z{z} "
                    f"{m['plain_same_level_file_mb']:.1f} MB, rollgate "
                    f"{m['rollgate_file_mb']:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=int, default=14,
                        help="pgbench scale (14 is about 200 MB; 2 for a quick run)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "backup.json")
    args = parser.parse_args(argv)
    missing = [t for t in ("pgbench", "pg_dump", "pg_restore", "psql") if not shutil.which(t)]
    if missing:
        print(f"bench/backup.py needs {', '.join(missing)} on PATH", file=sys.stderr)
        return 2
    result = measure(args.scale, args.rounds)
    _print(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "backup", **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
