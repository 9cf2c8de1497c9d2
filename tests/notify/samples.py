"""Realistic events of every kind, as channels get them (built as NotifyEvent rows and read
through ``data_of``, so they have exactly the shape the outbox hands to ``render``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rollgate.notify.events import data_of
from rollgate.store.tables import NotifyEvent

AT = datetime(2026, 12, 7, 14, 3, 9, tzinfo=UTC)
INCIDENT = "INC-20261207-0001"
RUN = "r-20261207-0007"


def event(kind: str, **changes: Any) -> dict[str, Any]:
    """A realistic event of ``kind`` as channels get it (through ``data_of``)."""
    family = kind.split(".")[0]
    refs: dict[str, str]
    level: str | None = None
    severity: int | None = None
    if family == "run":
        subject = {"run.started": "DEPLOYMENT: Starting v1.6.0 of web production (User: ana)",
                   "run.succeeded": "SUCCESS: Deployment v1.6.0 of web production completed "
                                    "successfully",
                   "run.failed": "FAILED: Deployment v1.6.0 of web production failed",
                   "run.rolled_back": "ROLLBACK ALERT: web production reverted to v1.5.0",
                   }[kind]
        text = 'migration 0042 failed: relation "orders" does not exist' \
            if kind == "run.failed" else ""
        fields = [["Service", "web"], ["Environment", "production"], ["Version", "v1.6.0"],
                  ["Previous", "v1.5.0"], ["By", "ana"], ["Run", RUN]]
        refs = {"run": RUN, "run_kind": "deploy"}
    elif family == "approval":
        subject = "APPROVAL NEEDED: v1.6.0 of web production (change board)"
        text, fields = f"rollgate approve {RUN}", [["Service", "web"], ["Run", RUN]]
        refs = {"run": RUN, "run_kind": "deploy"}
    elif family == "incident":
        level, severity = "SEV1", 0
        word = kind.split(".")[1]
        subject = {"incident.opened": f"[SEV1] {INCIDENT}: Checkout down",
                   "incident.updated": f"[SEV1] {INCIDENT}: Checkout down (identified)",
                   "incident.resolved": f"[RESOLVED] {INCIDENT}: Checkout down"}.get(
            kind, f"[SEV1] {INCIDENT} {word}: no update for 30 minutes")
        text = "Checkout returns 502 for 30% of requests since 14:01 UTC"
        fields = [["Severity", "SEV1"], ["Status", "investigating"], ["Service", "web"],
                  ["Environment", "production"], ["Channel", "#inc-checkout"]]
        refs = {"incident": INCIDENT, "run": RUN}
        if kind in ("incident.reminder", "incident.escalation"):
            refs["to"] = "oncall-web"
    else:
        head = kind.split(".")[1].upper()
        window = "2026-12-12 02:00\u20132026-12-12 04:00 UTC"  # as events.maintenance writes it
        subject = f"MAINTENANCE {head}: Database upgrade — production (db), {window}"
        text = "Checkout is read-only during the upgrade."
        fields = [["Environment", "production"], ["Window", window], ["Service", "db"]]
        refs = {"notice": "12"}
    row = NotifyEvent(key=f"{family}:{kind}:1", kind=kind, at=AT, environment="production",
                      service="web", level=level, severity=severity,
                      public=family in ("incident", "maintenance"), subject=subject,
                      data={"text": text, "fields": fields, "refs": refs})
    return {**data_of(row), **changes}
