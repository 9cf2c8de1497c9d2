"""Quality gate results: what each evaluation measured and decided, and earlier passes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rollgate.store.runs import now
from rollgate.store.tables import QualityResult

PASSING = "DEPLOY"


def record(*, session: Session, gate: str, service: str, version: str | None,
           objectives: dict[str, dict[str, Any]], score: float, decision: str,
           actor: str) -> QualityResult:
    """Append one evaluation of ``gate`` for ``service``."""
    row = QualityResult(gate=gate, service=service, version=version, objectives=objectives,
                        score=score, decision=decision, at=now(), actor=actor)
    session.add(row)
    session.flush()
    return row


def passing_values(*, session: Session, gate: str, service: str, limit: int,
                   other_than: str | None = None) -> list[dict[str, float]]:
    """Objective values of the latest ``limit`` DEPLOY results, newest first.

    ``other_than`` leaves out results of that version, so a gate run again for the same
    release compares with the releases before it, not with itself.
    """
    query = (select(QualityResult.objectives)
             .where(QualityResult.gate == gate, QualityResult.service == service,
                    QualityResult.decision == PASSING)
             .order_by(QualityResult.at.desc(), QualityResult.id.desc()).limit(limit))
    if other_than is not None:
        query = query.where(or_(QualityResult.version.is_(None),
                                QualityResult.version != other_than))
    return [{name: float(o["value"]) for name, o in objectives.items()
             if isinstance(o, dict) and isinstance(o.get("value"), int | float)}
            for objectives in session.scalars(query)]



def latest(*, session: Session, gate: str, service: str, version: str) -> QualityResult | None:
    """The newest evaluation of ``gate`` for this version of ``service``."""
    return session.scalars(
        select(QualityResult).where(QualityResult.gate == gate, QualityResult.service == service,
                                    QualityResult.version == version)
        .order_by(QualityResult.at.desc(), QualityResult.id.desc()).limit(1)).first()
