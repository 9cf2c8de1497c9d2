"""Terminal output: live progress of a run on a tty, plain lines elsewhere, JSON on request."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rollgate.engine.runtime import Runtime
from rollgate.store import runs as run_store
from rollgate.store.tables import AnalysisCheck, Run, Step

console = Console(highlight=False)
if not console.is_terminal:
    # Plain lines for logs and pipes: do not fold tables at 80 columns.
    console = Console(highlight=False, width=200)
err_console = Console(stderr=True, highlight=False)

ICONS = {"running": "…", "succeeded": "✓", "failed": "✗", "pending": "·"}
STATUS_STYLE = {"succeeded": "green", "failed": "red", "rolled_back": "yellow",
                "cancelled": "yellow", "running": "cyan", "pending": "dim"}


def print_json(data: Any) -> None:
    """Print data as JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def ts(at: datetime | None) -> str:
    """A short local time, or a dash."""
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def secs(ms: int | None) -> str:
    """Milliseconds as seconds with one decimal."""
    return f"{ms / 1000:.1f}s" if ms is not None else ""


def steps_table(steps: list[Step]) -> Table:
    """The steps of a run as a table."""
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for col in ("", "step", "took", "tries", "detail"):
        table.add_column(col, overflow="fold")
    for s in steps:
        style = STATUS_STYLE.get(s.state, "")
        lines = (s.output or "").splitlines()
        detail = s.error or (lines[-1] if lines else "")
        took = secs(s.duration_ms)
        if s.state == "running" and s.started_at is not None:
            took = f"{(datetime.now(UTC) - s.started_at).total_seconds():.1f}s…"
        table.add_row(Text(ICONS.get(s.state, "?"), style=style), s.name, took,
                      str(s.attempts), Text(str(detail or ""), style="red" if s.error else ""))
    return table


def runs_table(runs: list[Run]) -> Table:
    """Runs as a table, newest first (store rows, or API runs through ``remote.as_row``)."""
    table = Table(box=None, header_style="bold")
    for col in ("run", "kind", "service", "env", "version", "status", "by", "started",
                "reason / error"):
        table.add_column(col, overflow="fold")
    for r in runs:
        table.add_row(r.id, r.kind, r.service, r.environment,
                      f"{r.from_version or '-'} → {r.version}",
                      f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]", r.actor,
                      ts(r.started_at or r.created_at), r.error or r.reason or "")
    return table


def checks_table(checks: list[AnalysisCheck]) -> Table:
    """Analysis verdicts: the last evaluation of each check, and every failing one."""
    last: dict[tuple[int, str, str], AnalysisCheck] = {}
    shown: list[AnalysisCheck] = []
    for c in checks:
        last[(c.seq, c.analysis, c.name)] = c
        if c.verdict == "fail":
            shown.append(c)
    shown += [c for c in last.values() if c not in shown]
    table = Table(box=None, pad_edge=False, header_style="bold", title="analysis",
                  title_justify="left")
    for col in ("step", "check", "verdict", "observed", "threshold / baseline", "n", "evidence"):
        table.add_column(col, overflow="fold")
    for c in sorted(shown, key=lambda c: (c.seq, c.id)):
        style = {"pass": "green", "fail": "red"}.get(c.verdict, "yellow")
        against = _num(c.threshold) if c.threshold is not None else (
            f"stable {_num(c.baseline)}" if c.baseline is not None else "-")
        n = f"{c.samples}" + (f" vs {c.baseline_samples}" if c.baseline_samples else "")
        evidence = (f"{c.statistic}={_num(c.statistic_value)}" if c.statistic else "") + (
            f" p={c.p_value:.2g}" if c.p_value is not None else "")
        table.add_row(str(c.seq), f"{c.analysis}/{c.name}", Text(c.verdict, style=style),
                      _num(c.observed), against, n, evidence.strip() or c.summary)
    return table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def traffic_of(steps: list[Step]) -> str:
    """The traffic split set by the newest routing step of a run, as its output says."""
    for s in reversed(steps):
        for line in (s.output or "").splitlines():
            if line.startswith("traffic: "):
                return line
    return ""


def summary_line(run: Run) -> Text:
    """One line saying how a run ended."""
    style = STATUS_STYLE.get(run.status, "")
    if run.status == "succeeded":
        what = f"{run.version} is live" if run.kind == "deploy" else f"rolled back to {run.version}"
        return Text(f"run {run.id} succeeded: {what} ({run.service}/{run.environment})",
                    style=style)
    return Text(f"run {run.id} {run.status.replace('_', ' ')}: {run.error or ''}", style=style)


def follow(rt: Runtime, run_id: str, *, quiet: bool = False, poll: float = 0.25) -> Run:
    """Show a run's progress until it ends; return the final run."""
    live_ui = console.is_terminal and not quiet
    seen: dict[int, str] = {}

    def snapshot() -> tuple[Run, list[Step]]:
        with rt.db.session() as s:
            return (run_store.get_run(session=s, run_id=run_id),
                    run_store.list_steps(session=s, run_id=run_id))

    if live_ui:
        with Live(console=console, refresh_per_second=8, transient=False) as ui:
            while True:
                run, steps = snapshot()
                head = Text(f"{run.kind} {run.service} {run.version} → {run.environment} "
                            f"({run.strategy}) · {run.id} · {run.status}"
                            + (f" · {traffic_of(steps)}" if traffic_of(steps) else ""),
                            style=STATUS_STYLE.get(run.status, "bold"))
                ui.update(Group(head, steps_table(steps)))
                if run.status in run_store.TERMINAL:
                    break
                time.sleep(poll)
    else:
        while True:
            run, steps = snapshot()
            if not quiet:
                for s in steps:
                    if seen.get(s.seq) == f"{s.state}{s.attempts}":
                        continue
                    seen[s.seq] = f"{s.state}{s.attempts}"
                    plain_step(s)
            if run.status in run_store.TERMINAL:
                break
            time.sleep(poll)
    if not quiet:
        console.print(summary_line(run))
    return run


def plain_step(s: Step) -> None:
    """One line per step state for logs and pipes, with its output and error below."""
    at = ts(s.finished_at if s.state != "running" else s.started_at)
    if s.state == "running":
        again = f" (attempt {s.attempts})" if s.attempts > 1 else ""
        console.print(f"{at} … {s.name}{again}")
        return
    console.print(f"{at} {ICONS.get(s.state, '?')} {s.name} ({secs(s.duration_ms)})")
    for line in (s.output or "").splitlines():
        console.print(f"      {line}")
    if s.error:
        for line in s.error.splitlines():
            console.print(f"      {line}", style="red")
