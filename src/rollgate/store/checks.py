"""Analysis check records: what each evaluation saw and decided."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rollgate.store.runs import now
from rollgate.store.tables import AnalysisCheck

_FIELDS = ("name", "kind", "metric", "verdict", "observed", "threshold", "baseline", "samples",
           "baseline_samples", "statistic", "statistic_value", "p_value", "summary")


def record(*, session: Session, run_id: str, seq: int, analysis: str,
           checks: list[dict[str, Any]]) -> None:
    """Append evaluated checks of one analysis step."""
    at = now()
    for check in checks:
        session.add(AnalysisCheck(run_id=run_id, seq=seq, at=at, analysis=analysis,
                                  **{k: check.get(k) for k in _FIELDS}))


def for_run(*, session: Session, run_id: str, limit: int = 2000) -> list[AnalysisCheck]:
    """A run's check records, oldest first."""
    q = (select(AnalysisCheck).where(AnalysisCheck.run_id == run_id)
         .order_by(AnalysisCheck.id).limit(limit))
    return list(session.scalars(q))


def check_dict(row: AnalysisCheck) -> dict[str, Any]:
    """A check record as plain data."""
    return {"seq": row.seq, "at": row.at, "analysis": row.analysis,
            **{k: getattr(row, k) for k in _FIELDS}}
