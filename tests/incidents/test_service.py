"""Opening an incident: its level from a name, a number or signals; the first move the
policy recommends, made concrete by a recent deploy; the playbook; the first page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from rollgate.errors import UsageError
from rollgate.incidents import service
from rollgate.spec.incidents import IncidentPolicy, OnCall
from rollgate.store.db import Database
from rollgate.store.tables import Incident, Run

T0 = datetime(2025, 1, 4, 14, 30, tzinfo=UTC)
POLICY = IncidentPolicy(oncall=OnCall(people=["mona", "karim"], start=date(2025, 1, 1)))


def _deploy(db: Database, run_id: str, version: str, live_at: datetime) -> None:
    with db.session() as s:
        s.add(Run(id=run_id, kind="deploy", service="web", environment="production",
                  version=version, from_version=None, strategy="recreate", status="succeeded",
                  actor="ci", spec={}, spec_dir="/tmp", cancel_requested=False,
                  created_at=live_at - timedelta(minutes=5), started_at=live_at,
                  finished_at=live_at))


def _open(db: Database, title: str = "Checkout down",
          **kw: object) -> tuple[Incident, dict[str, Any]]:
    from rollgate.incidents.views import incident_detail

    args: dict[str, Any] = {"level": "SEV1", "service": "web", "environment": "production", **kw}
    with db.session() as s:
        row = service.open_incident(session=s, policy=POLICY, title=title, actor="ana",
                                    at=T0, **args)
        return row, incident_detail(s, row)


def _texts(detail: dict[str, Any], kind: str) -> list[str]:
    return [e["text"] for e in detail["timeline"] if e["kind"] == kind]


def test_a_sev1_after_a_recent_deploy_recommends_rolling_it_back(db: Database) -> None:
    _deploy(db, "run-old", "v1", T0 - timedelta(hours=30))  # outside the 24 h window
    _deploy(db, "run-new", "v2", T0 - timedelta(hours=2))
    row, detail = _open(db)
    [advice] = _texts(detail, "recommendation")
    assert advice.startswith("SEV1: roll back — web v2 went live in production at "
                             "2025-01-04 12:30 UTC (run run-new)")
    assert f'`rollgate rollback web --env production --reason "{row.id}: Checkout down"`' \
        in advice


def test_without_a_recent_deploy_the_advice_is_to_mitigate(db: Database) -> None:
    _deploy(db, "run-old", "v1", T0 - timedelta(hours=30))
    _, detail = _open(db)
    assert _texts(detail, "recommendation") == [
        "SEV1: mitigate first — no deploy of web in the last 24 h to roll back; "
        "rate-limit, turn a feature flag off or fail over"]
    _, minor = _open(db, title="Typo on the invoice page", level="SEV3")
    assert _texts(minor, "recommendation") == ["SEV3: investigate within 240 min"]


def test_levels_by_name_number_or_signals(db: Database) -> None:
    row, _ = _open(db, level="sev0")
    assert (row.level, row.severity) == ("SEV0", 0)
    row, _ = _open(db, level=None, signals={"error_rate": 0.12})  # "error rate > 10%"
    assert row.level == "SEV1"
    row, _ = _open(db, level=None, signals={})
    assert row.level == "SEV3"  # nothing matches: the least severe
    with pytest.raises(UsageError, match="unknown severity 'P1'; the levels are SEV0, SEV1"):
        _open(db, level="P1")


def test_the_playbook_the_channel_and_the_page(db: Database) -> None:
    first, detail = _open(db, title="Brevo email bounces")
    assert first.playbook == "email-provider"
    assert _texts(detail, "playbook") == [
        "playbook email-provider (Email provider outage): switch to in-app inbox only; "
        "queue emails; reduce send rate; show a banner in the UI for campaign delays"]
    assert _texts(detail, "page") == ["paged On-call (mona)"]  # mona's week
    assert first.channel == "#inc-20250104-1430"
    second, _ = _open(db, title="Login slow", level="SEV2")
    assert second.channel == "#inc-20250104-1430-2"  # same minute: still unique
    assert second.playbook is None
