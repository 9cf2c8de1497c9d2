"""DORA metrics and incident response times over a hand-computed history, on the real store
(SQLite or PostgreSQL); `rollgate report dora` and GET /api/reports/dora over the same
history; commit times of releases from `deploy --committed-at` and from git.

The history (``history``) covers the 30 days [since, at); day(n, "hh:mm") is ``since`` plus
n days. Production deploys finished in the period:

    D1 web v1  09:00-10:00 day 1   succeeded    committed day 1 08:00  -> lead 2h
    D2 web v2  11:00-12:00 day 4   succeeded    committed day 4 08:00  -> lead 4h
               R1 rollback from v2 13:00-13:30 day 4 (before D4)       -> failed, restored 2h30m
    D3 web v3  10:00-10:30 day 9   rolled_back                          -> failed, restored 30m
    D4 web v4  09:00-10:00 day 11  succeeded    committed day 10 10:00 -> lead 1d
               incidents I1 (its run_id) and I4 (a run link)             -> failed (once)
    D5 api a1  14:00-14:10 day 19  succeeded    no commit time
    D6 web v5  08:00-09:00 day 24  succeeded    committed day 22 09:00 -> lead 2d
               RC rollback from v5, day 25, cancelled                    -> does not count
    D7 web v5  08:00-09:00 day 26  succeeded (a redeploy)               -> lead 4d
               R2 rollback from v5 10:00-10:20 day 27: after D7 went live, so D7's, not D6's
                                                                         -> failed, restored 26h20m
Not counted: D0 (day -9, before the period), S1 (staging), F1 (failed before touching
anything), D8 (finished exactly at ``at``: the period is half-open), I0 (opened before the
period), IS (a staging incident).

Incidents: I1 prod, opened day 11 11:00, impact from 10:30, ack 11:05 (5m), resolved 13:30
(3h); I2 prod, opened day 17 02:00, from 01:40, ack 02:15 (15m), resolved 03:10 (1h30m);
I3 no environment (everywhere), opened day 28 12:00, no impact start, ack 12:02 (2m),
unresolved; I4 prod, opened day 29 20:00, neither acknowledged nor resolved.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.errors import UsageError
from rollgate.incidents import dora
from rollgate.store.db import Database
from rollgate.store.runs import now
from rollgate.store.tables import Incident, IncidentLink, Release, Run
from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service
from tests.api.conftest import ApiServer
from tests.e2e.helpers import deploy, setup

AT = datetime(2025, 3, 31, tzinfo=UTC)
HOUR, DAY = 3600.0, 86400.0



class History:
    """Writes rows at times relative to the period's start."""

    def __init__(self, session: Session, at: datetime) -> None:
        self.s = session
        self.since = at - timedelta(days=30)
        self.at = at

    def day(self, n: int, hhmm: str = "00:00") -> datetime:
        """``since`` plus n days at hh:mm."""
        hours, minutes = (int(x) for x in hhmm.split(":"))
        return self.since + timedelta(days=n, hours=hours, minutes=minutes)

    def run(self, run_id: str, kind: str, service: str, env: str, version: str, status: str,
            start: datetime, end: datetime, from_version: str | None = None) -> None:
        """A finished run."""
        self.s.add(Run(id=run_id, kind=kind, service=service, environment=env,
                       version=version, from_version=from_version, strategy="recreate",
                       status=status, actor="tester", spec={}, spec_dir="/tmp",
                       cancel_requested=False, created_at=start - timedelta(seconds=5),
                       started_at=start, finished_at=end))

    def release(self, service: str, version: str, committed: datetime | None) -> None:
        """A release and its commit time."""
        self.s.add(Release(service=service, version=version, created_at=self.since,
                           committed_at=committed))

    def incident(self, incident_id: str, env: str | None, opened: datetime,
                 started: datetime | None = None, ack: datetime | None = None,
                 resolved: datetime | None = None, run_id: str | None = None) -> None:
        """An incident with its clocks."""
        self.s.add(Incident(id=incident_id, title=incident_id, severity=1, level="SEV2",
                            status="resolved" if resolved else "investigating",
                            service="web", environment=env, opened_by="tester",
                            opened_at=opened, started_at=started, acknowledged_at=ack,
                            resolved_at=resolved, run_id=run_id, escalation_step=0))


def history(session: Session, at: datetime) -> History:
    """Write the module docstring's history for the period ending at ``at``."""
    h = History(session, at)
    d = h.day
    for version, committed in (("v0", d(-10)), ("v1", d(1, "08:00")), ("v2", d(4, "08:00")),
                               ("v3", d(8, "10:30")), ("v4", d(10, "10:00")),
                               ("v5", d(22, "09:00")), ("v6", d(29)), ("v9", d(13))):
        h.release("web", version, committed)
    h.release("api", "a1", None)
    h.run("D0", "deploy", "web", "production", "v0", "succeeded", d(-9, "09:00"),
          d(-9, "10:00"))
    h.run("D1", "deploy", "web", "production", "v1", "succeeded", d(1, "09:00"),
          d(1, "10:00"), "v0")
    h.run("S1", "deploy", "web", "staging", "v2", "succeeded", d(3, "09:00"), d(3, "10:00"))
    h.run("D2", "deploy", "web", "production", "v2", "succeeded", d(4, "11:00"),
          d(4, "12:00"), "v1")
    h.run("R1", "rollback", "web", "production", "v1", "succeeded", d(4, "13:00"),
          d(4, "13:30"), "v2")
    h.run("D3", "deploy", "web", "production", "v3", "rolled_back", d(9, "10:00"),
          d(9, "10:30"), "v1")
    h.run("D4", "deploy", "web", "production", "v4", "succeeded", d(11, "09:00"),
          d(11, "10:00"), "v1")
    h.run("F1", "deploy", "web", "production", "v9", "failed", d(14, "09:00"),
          d(14, "09:01"), "v4")
    h.run("D5", "deploy", "api", "production", "a1", "succeeded", d(19, "14:00"),
          d(19, "14:10"))
    h.run("D6", "deploy", "web", "production", "v5", "succeeded", d(24, "08:00"),
          d(24, "09:00"), "v4")
    h.run("RC", "rollback", "web", "production", "v4", "cancelled", d(25, "10:00"),
          d(25, "10:01"), "v5")
    h.run("D7", "deploy", "web", "production", "v5", "succeeded", d(26, "08:00"),
          d(26, "09:00"), "v5")
    h.run("R2", "rollback", "web", "production", "v4", "succeeded", d(27, "10:00"),
          d(27, "10:20"), "v5")
    h.run("D8", "deploy", "web", "production", "v6", "succeeded", d(29, "23:00"), d(30), "v4")
    h.incident("I0", "production", d(-4), ack=d(-4, "00:30"), resolved=d(-4, "05:00"))
    h.incident("IS", "staging", d(5), ack=d(5, "02:00"), resolved=d(5, "09:00"))
    h.incident("I1", "production", d(11, "11:00"), d(11, "10:30"), d(11, "11:05"),
               d(11, "13:30"), run_id="D4")
    h.incident("I2", "production", d(17, "02:00"), d(17, "01:40"), d(17, "02:15"),
               d(17, "03:10"))
    h.incident("I3", None, d(28, "12:00"), ack=d(28, "12:02"))
    h.incident("I4", "production", d(29, "20:00"), d(29, "20:00"))
    session.flush()
    session.add(IncidentLink(incident_id="I4", kind="run", ref="D4", at=d(29, "20:05")))
    return h


def assert_history_figures(report: dict[str, Any]) -> None:
    """Every figure of the history, computed by hand."""
    freq = report["deployment_frequency"]
    # D1 D2 D4 D5 D6 D7 succeeded: 6 in 30 days = 0.2 a day, 1.4 a week; >= 1/7 a day: high.
    assert freq["deploys"] == 6 and freq["days"] == pytest.approx(30)
    assert freq["per_day"] == pytest.approx(0.2) and freq["per_week"] == pytest.approx(1.4)
    assert freq["band"] == "high"

    lead = report["lead_time"]
    # 2h, 4h, 1d, 2d, 4d (D5 has no commit time): median 1d; mean 626400/5 = 125280 s;
    # p90 at rank 0.9*4 = 3.6: 2d + 0.6 * (4d - 2d) = 76.8 h.
    assert (lead["deploys"], lead["without_commit_time"], lead["commit_after_live"]) == (6, 1, 0)
    assert lead["seconds"] == {"count": 5, "median": DAY, "mean": pytest.approx(125280),
                               "p90": pytest.approx(76.8 * HOUR)}

    cfr = report["change_failure"]
    # Changed production: D1-D7 (7); failed: D2 (R1), D3 (in the run), D4 (I1, I4), D7 (R2):
    # 4 of 7 = 57.1%. D6 is not failed: RC was cancelled, R2 came after D7 went live.
    assert (cfr["deploys"], cfr["failed"]) == (7, 4)
    assert cfr["rate"] == pytest.approx(4 / 7)
    assert (cfr["rolled_back_in_run"], cfr["rolled_back_later"], cfr["with_incident"]) == \
        (1, 2, 1)
    failures = {f["run_id"]: f for f in cfr["failures"]}
    assert list(failures) == ["D2", "D3", "D4", "D7"]
    assert failures["D2"]["reasons"] == ["rolled back by R1"]
    assert failures["D3"]["reasons"] == ["rolled back during the run"]
    assert failures["D4"]["reasons"] == ["incident I1", "incident I4"]
    assert failures["D7"]["reasons"] == ["rolled back by R2"]
    # Rollback end minus the deploy's start: 13:30 - 11:00; 10:30 - 10:00; day 27 10:20 -
    # day 26 08:00. D4's restore time is its incidents'.
    assert [f["restore_seconds"] for f in failures.values()] == [
        2.5 * HOUR, 0.5 * HOUR, None, 26 * HOUR + 20 * 60]

    ttr = report["time_to_restore"]
    # Incidents resolved: I1 3h, I2 1h30m; rollbacks: 2h30m, 30m, 26h20m. Sorted 30m, 1h30m,
    # 2h30m, 3h, 26h20m: median 2h30m; mean (1800+5400+9000+10800+94800)/5 = 24360 s.
    # Not restored: I3 and I4.
    assert (ttr["from_incidents"], ttr["from_rollbacks"], ttr["unrestored"]) == (2, 3, 2)
    assert ttr["seconds"]["count"] == 5
    assert ttr["seconds"]["median"] == 2.5 * HOUR
    assert ttr["seconds"]["mean"] == pytest.approx(24360)

    resp = report["response"]
    # I1-I4 (I0 before the period, IS staging). Acks 5m, 15m, 2m: mean 440 s, median 5m.
    # Resolved I1 3h, I2 1h30m (from the impact start): mean = median = 2h15m.
    assert (resp["incidents"], resp["acknowledged"], resp["resolved"]) == (4, 3, 2)
    assert resp["mtta"]["mean"] == pytest.approx(440) and resp["mtta"]["median"] == 300
    assert resp["mttr"]["mean"] == pytest.approx(8100) and resp["mttr"]["median"] == 8100


def test_every_figure_of_a_hand_computed_history(db: Database) -> None:
    with db.session() as s:
        h = history(s, AT)
    with db.read() as s:
        report = dora.compute(session=s, environments=["production"], since=h.since, at=AT)
    data = report.as_dict()
    assert data["since"] == "2025-03-01T00:00:00+00:00"
    assert data["until"] == "2025-03-31T00:00:00+00:00"
    assert data["environments"] == ["production"]
    assert_history_figures(data)


def test_the_period_and_the_environments_choose_the_rows(db: Database) -> None:
    with db.session() as s:
        h = history(s, AT)
    with db.read() as s:
        # One more second: D8 (finished exactly at AT) is in; v6 was committed on day 29.
        later = dora.compute(session=s, environments=["production"], since=h.since,
                             at=AT + timedelta(seconds=1))
        staging = dora.compute(session=s, environments=["staging"], since=h.since, at=AT)
        both = dora.compute(session=s, environments=["production", "staging"],
                            since=h.since, at=AT)
        # From day 20: D6, D7 (R2 fails D7); incidents I3, I4 only.
        recent = dora.compute(session=s, environments=["production"], since=h.day(20),
                              at=AT)
    assert later.deployment_frequency.deploys == 7
    assert later.lead_time.seconds.count == 6
    assert later.change_failure.deploys == 8
    # Staging: S1 only, no failure; IS and the no-environment I3 are its incidents.
    assert (staging.deployment_frequency.deploys, staging.change_failure.failed) == (1, 0)
    assert staging.response.incidents == 2 and staging.response.resolved == 1
    # S1 went live on day 3, before v2's commit time (day 4): not a lead time.
    assert (staging.lead_time.commit_after_live, staging.lead_time.seconds.count) == (1, 0)
    assert both.deployment_frequency.deploys == 7 and both.change_failure.deploys == 8
    assert (recent.deployment_frequency.deploys, recent.change_failure.deploys) == (2, 2)
    assert [f.run_id for f in recent.change_failure.failures] == ["D7"]
    assert recent.response.incidents == 2 and recent.time_to_restore.unrestored == 2


def test_an_empty_period_has_counts_and_no_rates(db: Database) -> None:
    with db.read() as s:
        report = dora.compute(session=s, environments=["production"],
                              since=AT - timedelta(days=7), at=AT)
    assert report.deployment_frequency.deploys == 0
    assert report.deployment_frequency.band == "low"
    assert report.change_failure.rate is None and report.change_failure.failures == []
    assert report.lead_time.seconds == dora.Summary(0, None, None, None)
    assert report.response.mtta.count == 0 and report.time_to_restore.unrestored == 0


def test_bands_percentiles_and_periods() -> None:
    # DORA 2019: more than once a day elite; daily to weekly high; weekly to monthly medium.
    assert [dora.band(r) for r in (2, 1, 1 / 7, 1 / 8, 1 / 30, 1 / 31)] == [
        "elite", "high", "high", "medium", "medium", "low"]
    assert dora.summarize([10.0]) == dora.Summary(1, 10.0, 10.0, 10.0)
    assert dora.summarize([4.0, 1.0, 3.0, 2.0]) == dora.Summary(4, 2.5, 2.5, 3.7)
    assert dora.parse_since("90d", AT) == datetime(2024, 12, 31, tzinfo=UTC)
    assert dora.parse_since("2w", AT) == datetime(2025, 3, 17, tzinfo=UTC)
    assert dora.parse_since("36h", AT) == datetime(2025, 3, 29, 12, tzinfo=UTC)
    assert dora.parse_since("2025-01-01", AT) == datetime(2025, 1, 1, tzinfo=UTC)
    assert dora.parse_since("2025-01-01T02:00+02:00", AT) == datetime(2025, 1, 1, tzinfo=UTC)
    for bad, says in (("soon", "give a duration"), ("0d", "empty period"),
                      ("2026-01-01", "empty period"), ("99999999999d", "give a duration")):
        with pytest.raises(UsageError, match=says):
            dora.parse_since(bad, AT)


# -- through the CLI and the API ----------------------------------------------------------


def _project(box: Sandbox) -> None:
    box.write_spec({
        "project": "shop", "services": {"web": demo_service(free_port(), box.faults_path),
                                        "api": demo_service(free_port(), box.faults_path)},
        "environments": {"staging": {"ports": {"web": free_port(), "api": free_port()}},
                         "production": {}},
    })
    box.store().migrate()
    with box.store().session() as s:
        # Ends an hour from now: the command's own period (30 days to now) holds the same
        # rows; only D8 is still to come.
        history(s, now() + timedelta(hours=1))


def test_report_dora_through_the_cli(sandbox: Sandbox) -> None:
    _project(sandbox)
    done = sandbox.run("report", "dora", "--since", "30d", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_history_figures(json.loads(done.stdout))

    table = sandbox.run("report", "dora", "--since", "30d", "--env", "production")
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    for shown in ("deployment frequency", "0.20/day (1.4/week)", "high",
                  "median 1d, p90 3d4h48m", "5 of 6 deploys with a commit time", "57.1%",
                  "4 of 7 deploys", "median 2h30m", "3 of 4 incidents acknowledged",
                  "rolled back by R2", "1d2h20m"):
        assert shown in text, (shown, table.stdout)

    unknown = sandbox.run("report", "dora", "--env", "prod", "--json")
    assert unknown.returncode == 2 and "unknown environment 'prod'" in unknown.stderr
    empty = sandbox.run("report", "dora", "--since", "0d")
    assert empty.returncode == 2 and "empty period" in empty.stderr


def test_report_dora_over_the_api_needs_viewer_on_each_environment(sandbox: Sandbox) -> None:
    _project(sandbox)
    for name, role, env in (("root", "admin", "*"), ("vera", "viewer", "staging")):
        added = sandbox.run("users", "add", name, "--role", role, "--env", env,
                            "--password-stdin", input_text=f"{name} has a long passphrase\n")
        assert added.returncode == 0, added.stderr
    api = ApiServer(sandbox)
    try:
        api.start()
        tokens = {}
        for name in ("root", "vera"):
            resp = api.http.post("/api/auth/token", json={
                "username": name, "password": f"{name} has a long passphrase", "name": "t"})
            assert resp.status_code == 201, resp.text
            tokens[name] = {"Authorization": f"Bearer {resp.json()['token']}"}
        api.http.headers.update(tokens["root"])  # the cleanup acts as root

        resp = api.http.get("/api/reports/dora", params={"since": "30d"})
        assert resp.status_code == 200, resp.text
        assert_history_figures(resp.json())

        refused = httpx.get(f"{api.url}/api/reports/dora", headers=tokens["vera"])
        assert refused.status_code == 403
        assert "viewer on production" in refused.json()["error"]["message"]
        mine = httpx.get(f"{api.url}/api/reports/dora", headers=tokens["vera"],
                         params={"since": "30d", "environment": "staging"})
        assert mine.status_code == 200 and mine.json()["deployment_frequency"]["deploys"] == 1
        both = api.http.get("/api/reports/dora", params=[
            ("since", "30d"), ("environment", "production"), ("environment", "staging")])
        assert both.json()["environments"] == ["production", "staging"]
        assert both.json()["change_failure"]["deploys"] == 8
        bad = api.http.get("/api/reports/dora", params={"since": "whenever"})
        assert bad.status_code == 400 and "give a duration" in bad.json()["error"]["message"]
    finally:
        api.close()


# -- commit times of releases recorded by real deploys -----------------------------------


def _release(box: Sandbox, service: str, version: str) -> Release:
    with box.store().read() as s:
        return s.scalars(select(Release).where(Release.service == service,
                                               Release.version == version)).one()


def test_a_deploy_records_the_commit_time_it_is_given(sandbox: Sandbox) -> None:
    setup(sandbox, {"kind": "recreate"})
    bad = deploy(sandbox, "v1", "--committed-at", "yesterday")
    assert bad.returncode == 2 and "not an ISO 8601 time" in bad.stderr
    done = deploy(sandbox, "v1", "--commit", "ABC1234", "--committed-at",
                  "2025-01-04T14:30:00+02:00", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads(done.stdout)
    assert run["params"]["commit"] == {"sha": "abc1234",
                                       "committed_at": "2025-01-04T12:30:00+00:00"}
    release = _release(sandbox, "web", "v1")
    assert release.commit_sha == "abc1234"
    assert release.committed_at == datetime(2025, 1, 4, 12, 30, tzinfo=UTC)

    report = sandbox.json("report", "dora", "--since", "1d")
    lead = report["lead_time"]
    assert (lead["deploys"], lead["seconds"]["count"]) == (1, 1)
    live_at = datetime.fromisoformat(run["finished_at"])
    assert lead["seconds"]["median"] == pytest.approx(
        (live_at - datetime(2025, 1, 4, 12, 30, tzinfo=UTC)).total_seconds(), abs=0.01)


def _git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else {}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env={**os.environ, **env}).stdout.strip()


def test_a_release_takes_its_commit_and_time_from_git(sandbox: Sandbox) -> None:
    repo = sandbox.root / "code"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    for message, tag, when in (("First", "v1.0.0", "2025-01-02T09:00:00+01:00"),
                               ("Second", "v1.1.0", "2025-01-03T10:00:00Z")):
        (repo / "log.txt").write_text(message)
        _git(repo, "add", ".")
        _git(repo, "commit", "-q", "-m", message, date=when)
        _git(repo, "tag", tag)
    sandbox.write_spec({"project": "shop",
                        "services": {"web": demo_service(free_port(), sandbox.faults_path)},
                        "environments": {"production": {}}, "promotion": {"repo": "code"}})

    assert deploy(sandbox, "v1.0.0").returncode == 0
    first = _release(sandbox, "web", "v1.0.0")
    assert first.commit_sha == _git(repo, "rev-parse", "v1.0.0^{commit}")
    assert first.committed_at == datetime(2025, 1, 2, 8, 0, tzinfo=UTC)

    # What the deploy says wins over git; git still names the commit.
    done = deploy(sandbox, "v1.1.0", "--committed-at", "2025-01-03T08:00:00")
    assert done.returncode == 0, done.stdout + done.stderr
    second = _release(sandbox, "web", "v1.1.0")
    assert second.commit_sha == _git(repo, "rev-parse", "v1.1.0^{commit}")
    assert second.committed_at == datetime(2025, 1, 3, 8, 0, tzinfo=UTC)

    # A version git does not know has no commit time, and the report says so.
    assert deploy(sandbox, "v2-local").returncode == 0
    assert _release(sandbox, "web", "v2-local").committed_at is None
    lead = sandbox.json("report", "dora", "--since", "1d")["lead_time"]
    assert (lead["deploys"], lead["without_commit_time"], lead["seconds"]["count"]) == (3, 1, 2)
