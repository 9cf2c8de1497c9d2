"""Running a quality gate against the store: earlier passes in, this evaluation recorded."""

from __future__ import annotations

from dataclasses import dataclass

from rollgate.gates.measure import GateInputs
from rollgate.gates.quality import GateResult, evaluate
from rollgate.spec.quality import QualityGate
from rollgate.store import audit
from rollgate.store import quality as quality_store
from rollgate.store.db import Database


@dataclass(frozen=True)
class Evaluation:
    """A gate's result and the id it was recorded under (None when not recorded)."""

    result: GateResult
    recorded: int | None


def run_gate(db: Database, gate: QualityGate, inputs: GateInputs, *, name: str, service: str,
             version: str | None, actor: str, record: bool = True) -> Evaluation:
    """Evaluate ``gate`` for ``service`` against its earlier passes; record the result.

    Inputs are measured before anything is written: a bad report records nothing.
    """
    with db.session() as s:
        history = quality_store.passing_values(session=s, gate=name, service=service,
                                               limit=gate.compare_with, other_than=version)
    result = evaluate(gate, inputs, history, name=name, service=service, version=version)
    if not record:
        return Evaluation(result, None)
    with db.session() as s:
        row = quality_store.record(
            session=s, gate=name, service=service, version=version,
            objectives={r.name: {"value": r.value, "status": r.status,
                                 "score": round(r.score, 4)} for r in result.rows},
            score=result.score, decision=result.decision, actor=actor)
        audit.record(session=s, actor=actor, action="gate.evaluated",
                     target=f"gate:{name}/{service}",
                     detail={"result": row.id, "version": version, "score": result.score,
                             "decision": result.decision, "blocking": result.blocking})
        return Evaluation(result, row.id)
