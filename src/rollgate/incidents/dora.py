"""DORA's four keys and incident response times, computed from what the store recorded.

Over a period ``[since, at)`` and a set of production environments:

- **deployment frequency**: deploy runs (promotions are deploy runs) that succeeded there,
  per day and per week, and the band of the Accelerate State of DevOps Report 2019
  (DORA): *elite* on demand, multiple deploys per day; *high* between once per day and once
  per week; *medium* between once per week and once per month; *low* less often. Judged on
  the average rate: more than 1 a day is elite, at least 1 a week high, at least 1 in 30
  days medium.
- **lead time for changes**: a successful deploy's end (the version is live) minus its
  release's commit time (``Release.committed_at``: ``deploy --committed-at`` or git);
  median, p90 and mean, with how many deploys had no commit time.
- **change failure rate**: of the deploys that changed production (succeeded or rolled
  back: a run that failed before touching anything changed nothing), those rolled back
  during the run, rolled back later by a rollback run away from that version before the
  next deploy went live, or tied to an incident (``Incident.run_id``, a ``run`` link).
- **time to restore service**: per production incident, resolved minus started (impact
  start, else opened); per failed change without an incident, the end of the rollback
  (the run's own, or the rollback run's) minus the failed deploy's start. Median and mean.
- **MTTA / MTTR**: over production incidents opened in the period, acknowledged minus
  opened and resolved minus started; mean and median.

Production incidents are those of one of the environments, those of no environment (they
affect every environment) and those tied to one of the period's deploys. Nothing after
``at`` is seen: a later acknowledgement, resolution or rollback has not happened yet.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import fmean, median
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rollgate.errors import UsageError
from rollgate.moments import parse_utc
from rollgate.spec.durations import parse_duration
from rollgate.store.runs import CANCELLED, ROLLED_BACK, SUCCEEDED
from rollgate.store.tables import Incident, IncidentLink, Release, Run

DAY = 86400.0
BANDS = ("elite", "high", "medium", "low")


@dataclass(frozen=True)
class Summary:
    """Durations in seconds: how many, their mean, median and 90th percentile (None when
    there are none)."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Frequency:
    """Successful production deploys in the period, their rate and the DORA band."""

    deploys: int
    days: float
    per_day: float
    per_week: float
    band: str


@dataclass(frozen=True)
class LeadTime:
    """Commit to live, over successful production deploys whose release has a commit time."""

    deploys: int
    without_commit_time: int
    commit_after_live: int  # a commit time later than the deploy: clock skew or wrong input
    seconds: Summary


@dataclass(frozen=True)
class FailedChange:
    """A production deploy that failed: why we say so, and how long until it was restored."""

    run_id: str
    service: str
    environment: str
    version: str
    finished_at: datetime
    reasons: list[str]
    incidents: list[str]
    restore_seconds: float | None  # without an incident: rollback end - deploy start


@dataclass(frozen=True)
class ChangeFailure:
    """Failed changes over the deploys that changed production."""

    deploys: int
    failed: int
    rate: float | None
    rolled_back_in_run: int
    rolled_back_later: int
    with_incident: int
    failures: list[FailedChange] = field(default_factory=list)


@dataclass(frozen=True)
class Restore:
    """Time to restore service, from incidents and from rollbacks of failed changes."""

    seconds: Summary
    from_incidents: int
    from_rollbacks: int
    unrestored: int  # unresolved incidents, failed changes never rolled back


@dataclass(frozen=True)
class Response:
    """Acknowledgement (MTTA) and resolution (MTTR) times of production incidents."""

    incidents: int
    acknowledged: int
    resolved: int
    mtta: Summary
    mttr: Summary


@dataclass(frozen=True)
class DoraReport:
    """Every figure of the report, and the counts behind them."""

    environments: list[str]
    since: datetime
    until: datetime
    deployment_frequency: Frequency
    lead_time: LeadTime
    change_failure: ChangeFailure
    time_to_restore: Restore
    response: Response

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (times in ISO 8601, durations in seconds)."""
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolating between the closest ranks (as
    numpy's default and spreadsheets' PERCENTILE do)."""
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> Summary:
    """Count, mean, median and p90 of durations in seconds."""
    if not values:
        return Summary(0, None, None, None)
    ordered = sorted(values)
    return Summary(len(ordered), fmean(ordered), median(ordered), percentile(ordered, 0.9))


def band(per_day: float) -> str:
    """The DORA 2019 deployment-frequency band of an average rate of deploys per day."""
    if per_day > 1:
        return "elite"
    if per_day >= 1 / 7:
        return "high"
    if per_day >= 1 / 30:
        return "medium"
    return "low"


def parse_since(text: str, at: datetime) -> datetime:
    """The start of a period ending at ``at``: ``90d``, ``12w``, ``36h``, or an ISO date or
    time (UTC without a zone)."""
    value = text.strip()
    try:
        if weeks := re.fullmatch(r"(\d{1,6})w", value):
            start = at - timedelta(weeks=int(weeks[1]))
        else:
            try:
                start = at - timedelta(seconds=parse_duration(value))
            except ValueError:
                start = parse_utc(value)
    except (ValueError, OverflowError):
        raise UsageError(f"--since {text!r}: give a duration such as 90d, 12w or 36h, or a "
                         "date such as 2025-01-01") from None
    if start >= at:
        raise UsageError(f"--since {text!r} leaves an empty period: give a duration longer "
                         f"than 0 or a date before {at:%Y-%m-%d %H:%M} UTC")
    return start


def _seen(moment: datetime | None, at: datetime) -> datetime | None:
    """A moment, or None when it is after ``at`` (not happened yet from there)."""
    return moment if moment is not None and moment <= at else None


def _start(run: Run) -> datetime:
    return run.started_at or run.created_at


def compute(*, session: Session, environments: Sequence[str], since: datetime,
            at: datetime) -> DoraReport:
    """The DORA figures and response times of ``environments`` over ``[since, at)``."""
    envs = list(dict.fromkeys(environments))
    if not envs:
        raise UsageError("name at least one environment (--env production)")
    if since >= at:
        raise UsageError("the period is empty: --since must be before its end")
    deploys = list(session.scalars(
        select(Run).where(Run.kind == "deploy", Run.environment.in_(envs),
                          Run.status.in_((SUCCEEDED, ROLLED_BACK)),
                          Run.finished_at >= since, Run.finished_at < at)
        .order_by(Run.finished_at, Run.id)))
    live = [d for d in deploys if d.status == SUCCEEDED]
    rollbacks = list(session.scalars(
        select(Run).where(Run.kind == "rollback", Run.environment.in_(envs),
                          Run.status != CANCELLED, Run.created_at >= since,
                          Run.created_at < at)
        .order_by(Run.created_at, Run.id)))
    tied = _incidents_of(session, [d.id for d in deploys], at)
    incidents = list(session.scalars(
        select(Incident).where(
            Incident.opened_at >= since, Incident.opened_at < at,
            or_(Incident.environment.in_(envs), Incident.environment.is_(None),
                Incident.id.in_(sorted({i for ids in tied.values() for i in ids}))))
        .order_by(Incident.opened_at, Incident.id)))
    days = (at - since).total_seconds() / DAY
    frequency = Frequency(len(live), days, len(live) / days, len(live) / days * 7,
                          band(len(live) / days))
    failure = _change_failure(deploys, live, rollbacks, tied, at)
    return DoraReport(
        environments=envs, since=since, until=at, deployment_frequency=frequency,
        lead_time=_lead_time(session, live), change_failure=failure,
        time_to_restore=_restore(incidents, failure, at),
        response=_response(incidents, at))


def _incidents_of(session: Session, run_ids: list[str], at: datetime) -> dict[str, set[str]]:
    """Run id -> ids of the incidents tied to it (opened before ``at``)."""
    tied: dict[str, set[str]] = defaultdict(set)
    if not run_ids:
        return tied
    for incident_id, run_id in session.execute(
            select(Incident.id, Incident.run_id).where(Incident.run_id.in_(run_ids),
                                                       Incident.opened_at < at)):
        tied[str(run_id)].add(incident_id)
    for incident_id, ref in session.execute(
            select(IncidentLink.incident_id, IncidentLink.ref)
            .join(Incident, Incident.id == IncidentLink.incident_id)
            .where(IncidentLink.kind == "run", IncidentLink.ref.in_(run_ids),
                   Incident.opened_at < at)):
        tied[ref].add(incident_id)
    return tied


def _lead_time(session: Session, live: list[Run]) -> LeadTime:
    wanted = {(d.service, d.version) for d in live}
    committed: dict[tuple[str, str], datetime | None] = {}
    for service in {s for s, _ in wanted}:
        versions = sorted(v for s, v in wanted if s == service)
        for version, at in session.execute(
                select(Release.version, Release.committed_at).where(
                    Release.service == service, Release.version.in_(versions),
                    Release.committed_at.is_not(None))):
            committed[(service, version)] = at
    values: list[float] = []
    missing = backwards = 0
    for d in live:
        commit = committed.get((d.service, d.version))
        if commit is None or d.finished_at is None:
            missing += 1
            continue
        seconds = (d.finished_at - commit).total_seconds()
        if seconds < 0:
            backwards += 1
            continue
        values.append(seconds)
    return LeadTime(len(live), missing, backwards, summarize(values))


def _change_failure(deploys: list[Run], live: list[Run], rollbacks: list[Run],
                    tied: dict[str, set[str]], at: datetime) -> ChangeFailure:
    failures: list[FailedChange] = []
    in_run = later = with_incident = 0
    for d in deploys:
        assert d.finished_at is not None  # selected by it
        reasons: list[str] = []
        restored: datetime | None = None
        if d.status == ROLLED_BACK:
            in_run += 1
            reasons.append("rolled back during the run")
            restored = d.finished_at
        else:
            away = _rollbacks_away(d, live, rollbacks)
            if away:
                later += 1
                reasons += [f"rolled back by {r.id}" for r in away]
                ends = [e for r in away if r.status == SUCCEEDED
                        and (e := _seen(r.finished_at, at)) is not None]
                restored = min(ends) if ends else None
        incident_ids = sorted(tied.get(d.id, ()))
        if incident_ids:
            with_incident += 1
            reasons += [f"incident {i}" for i in incident_ids]
        if not reasons:
            continue
        seconds = None
        if not incident_ids and restored is not None:
            seconds = (restored - _start(d)).total_seconds()
        failures.append(FailedChange(d.id, d.service, d.environment, d.version, d.finished_at,
                                     reasons, incident_ids, seconds))
    rate = len(failures) / len(deploys) if deploys else None
    return ChangeFailure(len(deploys), len(failures), rate, in_run, later, with_incident,
                         failures)


def _rollbacks_away(deploy: Run, live: list[Run], rollbacks: list[Run]) -> list[Run]:
    """Rollback runs away from ``deploy``'s version on its target, started after it went
    live and before the next successful deploy there."""
    assert deploy.finished_at is not None
    went = deploy.finished_at
    following = [d.finished_at for d in live
                 if (d.service, d.environment) == (deploy.service, deploy.environment)
                 and d.finished_at is not None and d.finished_at > went]
    until = min(following) if following else None
    return [r for r in rollbacks
            if (r.service, r.environment) == (deploy.service, deploy.environment)
            and r.from_version == deploy.version and r.created_at >= went
            and (until is None or r.created_at < until)]


def _restore(incidents: list[Incident], failure: ChangeFailure, at: datetime) -> Restore:
    values: list[float] = []
    unrestored = 0
    for incident in incidents:
        resolved = _seen(incident.resolved_at, at)
        if resolved is None:
            unrestored += 1
            continue
        values.append((resolved - (incident.started_at or incident.opened_at)).total_seconds())
    from_incidents = len(values)
    for f in failure.failures:
        if f.incidents:
            continue  # its incident's resolution is the restore time
        if f.restore_seconds is None:
            unrestored += 1
        else:
            values.append(f.restore_seconds)
    return Restore(summarize(values), from_incidents, len(values) - from_incidents, unrestored)


def _response(incidents: list[Incident], at: datetime) -> Response:
    acks = [(ack - i.opened_at).total_seconds() for i in incidents
            if (ack := _seen(i.acknowledged_at, at)) is not None]
    fixes = [(done - (i.started_at or i.opened_at)).total_seconds() for i in incidents
             if (done := _seen(i.resolved_at, at)) is not None]
    return Response(len(incidents), len(acks), len(fixes), summarize(acks), summarize(fixes))
