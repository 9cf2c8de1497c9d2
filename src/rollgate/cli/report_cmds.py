"""rollgate report dora: deployment frequency, lead time, change failure rate, time to
restore, and incident acknowledgement and resolution times, from what rollgate recorded."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json, ts
from rollgate.incidents import dora
from rollgate.spec.durations import format_duration
from rollgate.store.runs import now

report_app = typer.Typer(help="Reports over the recorded runs and incidents.",
                         no_args_is_help=True)

BAND_STYLE = {"elite": "green", "high": "green", "medium": "yellow", "low": "red"}


def register(app: typer.Typer) -> None:
    """Add the report command group to the app."""
    app.add_typer(report_app, name="report")


def human(seconds: float | None) -> str:
    """A duration as the spec writes it, to the minute past one minute (``1d2h30m``)."""
    if seconds is None:
        return "-"
    if seconds >= 60:
        seconds = round(seconds / 60) * 60
    return format_duration(round(seconds))


def _summary(s: dora.Summary, *, p90: bool = False, mean: bool = False) -> str:
    if s.count == 0:
        return "-"
    parts = [f"median {human(s.median)}"]
    if p90:
        parts.append(f"p90 {human(s.p90)}")
    if mean:
        parts.insert(0, f"mean {human(s.mean)}")
    return ", ".join(parts)


@report_app.command("dora")
def dora_report(
    since: Annotated[str, typer.Option(help="the period: a duration back from now (90d, 12w, "
                                            "36h) or a date (2025-01-01)")] = "90d",
    env: Annotated[list[str] | None, typer.Option(
        "--env", "-e", help="a production environment (repeat for several; default: "
                            "production)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """DORA's four keys and incident MTTA/MTTR over a period, from rollgate's own records."""
    app_state.json_errors = as_json
    environments = env or ["production"]
    project = app_state.project()
    for name in environments:
        project.check_environment(name)
    at = now()
    start = dora.parse_since(since, at)
    with app_state.runtime().db.read() as s:
        report = dora.compute(session=s, environments=environments, since=start, at=at)
    if as_json:
        print_json(report.as_dict())
        return
    print_report(report)


def print_report(report: dora.DoraReport) -> None:
    """The report as a table, then its failed changes."""
    freq, lead, cfr = report.deployment_frequency, report.lead_time, report.change_failure
    ttr, resp = report.time_to_restore, report.response
    days = f"{freq.days:g} day{'' if freq.days == 1 else 's'}"
    table = Table(title=f"DORA for {', '.join(report.environments)}: {ts(report.since)} → "
                        f"{ts(report.until)} ({days})", header_style="bold")
    for col in ("metric", "value", "band / based on"):
        table.add_column(col)
    table.add_row("deployment frequency",
                  f"{freq.per_day:.2f}/day ({freq.per_week:.1f}/week)",
                  Text.assemble((freq.band, BAND_STYLE[freq.band]),
                                f" · {freq.deploys} successful deploys"))
    unusable = (f", {lead.commit_after_live} committed after going live"
                if lead.commit_after_live else "")
    table.add_row("lead time for changes", _summary(lead.seconds, p90=True),
                  f"{lead.seconds.count} of {lead.deploys} deploys with a commit time"
                  f"{unusable}")
    table.add_row("change failure rate",
                  "-" if cfr.rate is None else f"{cfr.rate:.1%}",
                  f"{cfr.failed} of {cfr.deploys} deploys: {cfr.rolled_back_in_run} rolled "
                  f"back in the run, {cfr.rolled_back_later} later, {cfr.with_incident} with "
                  "an incident")
    table.add_row("time to restore service", _summary(ttr.seconds, mean=True),
                  f"{ttr.seconds.count} restored ({ttr.from_incidents} incidents, "
                  f"{ttr.from_rollbacks} rollbacks), {ttr.unrestored} not yet")
    table.add_row("MTTA", _summary(resp.mtta, mean=True),
                  f"{resp.acknowledged} of {resp.incidents} incidents acknowledged")
    table.add_row("MTTR", _summary(resp.mttr, mean=True),
                  f"{resp.resolved} of {resp.incidents} incidents resolved")
    console.print(table)
    if not cfr.failures:
        return
    failed = Table(title="failed changes", header_style="bold")
    for col in ("run", "target", "version", "ended", "why", "restored in"):
        failed.add_column(col, overflow="fold")
    for f in cfr.failures:
        restored = ("see incident" if f.incidents else human(f.restore_seconds)
                    if f.restore_seconds is not None else "not yet")
        failed.add_row(f.run_id, f"{f.service}/{f.environment}", Text(f.version),
                       ts(f.finished_at), Text("; ".join(f.reasons)), restored)
    console.print(failed)
