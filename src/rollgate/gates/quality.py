"""Scoring a quality gate: objectives -> weighted score -> DEPLOY, REMEDIATE or BLOCK.

The scoring rule (one rule, the same for every objective):

- An objective's **status** is *pass* when its value meets every ``pass`` criterion,
  *warning* when it misses one but meets every ``warning`` criterion, else *fail*.
- It **earns** ``weight x attainment``. Attainment is 1 when the pass criteria are met;
  otherwise it is how close the value came to the threshold it missed, capped at 1:
  ``value / threshold`` for ``>=`` and ``>``, ``threshold / value`` for ``<=`` and ``<``,
  0 for a missed ``==`` or a threshold at or below 0 (the smallest ratio when several
  criteria are missed). So 85% of tests passing against ``>=100`` earns 0.85 of the weight.
- The **total score** is earned / sum of weights, in percent, rounded to 2 decimals.
- The **decision**: BLOCK when the total is below ``warning``; otherwise REMEDIATE when a
  key objective failed (a *blocking failure*) or the total is below ``pass``; else DEPLOY.

Keptn gives a warning half its weight and a failure none; that cannot reproduce the seed
runbook (an 85% key failure beside four perfect objectives scoring 97.5%), so here a missed
objective earns in proportion to how far it got, and status only labels it (and makes a key
objective blocking). Relative criteria (``<=+10%``) compare with the mean of the objective's
values in the last ``compare_with`` passing results; with none recorded they count as met,
with a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rollgate.gates.measure import GateInputs, Measurement, measure
from rollgate.spec.quality import Criterion, Op, QualityGate, parse_criterion

Decision = Literal["DEPLOY", "REMEDIATE", "BLOCK"]
Status = Literal["pass", "warning", "fail"]
History = Sequence[Mapping[str, float]]
"""Objective values of earlier passing results of the gate for the service, newest first."""

ICONS: dict[Status, str] = {"pass": "✅", "warning": "⚠️", "fail": "❌"}


@dataclass(frozen=True)
class ObjectiveResult:
    """One row of a gate's result: value, criteria, status and what it earned."""

    name: str
    display: str
    value: float
    unit: str
    source: str
    status: Status
    key: bool
    weight: float
    attainment: float
    pass_criteria: tuple[str, ...]
    warning_criteria: tuple[str, ...]
    baseline: float | None
    notes: tuple[str, ...]

    @property
    def score(self) -> float:
        """What the objective earned: weight x attainment."""
        return self.weight * self.attainment

    @property
    def blocking(self) -> bool:
        """A key objective that failed."""
        return self.key and self.status == "fail"

    def shown_value(self) -> str:
        """The value with its unit (``85%``, ``412 ms``)."""
        sep = "" if self.unit in ("", "%") else " "
        return f"{_num(self.value)}{sep}{self.unit}"

    def to_dict(self) -> dict[str, Any]:
        """The row as plain data."""
        return {"name": self.name, "display": self.display, "value": self.value,
                "unit": self.unit, "source": self.source, "status": self.status,
                "key": self.key, "blocking": self.blocking, "weight": self.weight,
                "attainment": round(self.attainment, 4), "score": round(self.score, 4),
                "pass": list(self.pass_criteria), "warning": list(self.warning_criteria),
                "baseline": self.baseline, "notes": list(self.notes)}


@dataclass(frozen=True)
class GateResult:
    """A gate's evaluation: every objective, the total score and the decision."""

    gate: str
    service: str
    version: str | None
    rows: tuple[ObjectiveResult, ...]
    score: float
    decision: Decision
    pass_at: float
    warning_at: float

    @property
    def blocking(self) -> list[str]:
        """Names of the key objectives that failed."""
        return [row.name for row in self.rows if row.blocking]

    def values(self) -> dict[str, float]:
        """Each objective's value, by name."""
        return {row.name: row.value for row in self.rows}

    def table(self) -> str:
        """The result as text: decision, score, blocking failures and one line per objective."""
        what = f"{self.service} {self.version}" if self.version else self.service
        blocking = self.blocking
        lines = [f"QUALITY GATE {self.gate} · {what}",
                 f"Decision: {self.decision}",
                 f"Overall Score: {_num(self.score)}%",
                 f"Blocking Failures: {len(blocking)}"
                 + (f" ({', '.join(blocking)})" if blocking else ""),
                 f"Thresholds: DEPLOY at {_num(self.pass_at)}% or more without blocking "
                 f"failures, BLOCK below {_num(self.warning_at)}%",
                 "",
                 "Objective Results:"]
        header = ("objective", "value", "pass", "warning", "weight", "score", "result",
                  "measured")
        cells = [[row.display, row.shown_value(), _criteria(row.pass_criteria, row),
                  _criteria(row.warning_criteria, row), _num(row.weight), _num(row.score),
                  row.status + (" (BLOCKING)" if row.blocking else " (key)" if row.key else ""),
                  row.source] for row in self.rows]
        widths = [max(len(c[i]) for c in [list(header), *cells]) for i in range(len(header))]
        lines.append("   " + _line(list(header), widths))
        lines += [f"{ICONS[row.status]} {_line(c, widths)}" for row, c in zip(self.rows, cells,
                                                                            strict=True)]
        notes = [f"note: {row.name}: {note}" for row in self.rows for note in row.notes]
        return "\n".join(lines + (["", *notes] if notes else []))

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (``--json``)."""
        return {"gate": self.gate, "service": self.service, "version": self.version,
                "decision": self.decision, "score": self.score, "pass": self.pass_at,
                "warning": self.warning_at, "blocking": self.blocking,
                "objectives": [row.to_dict() for row in self.rows]}


def evaluate(gate: QualityGate, inputs: GateInputs, history: History = (), *, name: str,
             service: str, version: str | None = None) -> GateResult:
    """Measure every objective of ``gate`` from ``inputs``, then score and decide."""
    return judge(gate, measure(gate, inputs), history, name=name, service=service,
                 version=version)


def judge(gate: QualityGate, measured: Mapping[str, Measurement], history: History = (), *,
          name: str, service: str, version: str | None = None) -> GateResult:
    """Score measured values against the gate's criteria and decide (no I/O)."""
    recent = list(history)[:gate.compare_with]
    rows: list[ObjectiveResult] = []
    for key, objective in gate.objectives.items():
        m = measured[key]
        earlier = [h[key] for h in recent if key in h]
        baseline = math.fsum(earlier) / len(earlier) if earlier else None
        passes, attainment, notes = _meet(objective.pass_criteria(), m.value, baseline, name,
                                          service)
        status: Status = "pass"
        if not passes:
            warns, _, more = _meet(objective.warning_criteria(), m.value, baseline, name,
                                   service)
            notes += more
            status = "warning" if objective.warning and warns else "fail"
        relative = any(c.relative != "absolute" for c in
                       objective.pass_criteria() + objective.warning_criteria())
        rows.append(ObjectiveResult(
            name=key, display=objective.display or key, value=m.value,
            unit=objective.shown_unit(), source=m.source, status=status, key=objective.key,
            weight=objective.weight, attainment=1.0 if passes else attainment,
            pass_criteria=tuple(objective.pass_), warning_criteria=tuple(objective.warning),
            baseline=baseline if relative else None, notes=tuple(dict.fromkeys(notes))))
    total = math.fsum(row.weight for row in rows)
    score = round(100 * math.fsum(row.score for row in rows) / total, 2)
    blocked = any(row.blocking for row in rows)
    return GateResult(gate=name, service=service, version=version, rows=tuple(rows),
                      score=score, decision=decide(score, blocked, gate.pass_, gate.warning),
                      pass_at=gate.pass_, warning_at=gate.warning)


def decide(score: float, blocking: bool, pass_at: float, warning_at: float) -> Decision:
    """BLOCK below ``warning_at``; REMEDIATE on a blocking failure or below ``pass_at``."""
    if score < warning_at:
        return "BLOCK"
    if blocking or score < pass_at:
        return "REMEDIATE"
    return "DEPLOY"


def _meet(criteria: list[Criterion], value: float, baseline: float | None, gate: str,
          service: str) -> tuple[bool, float, list[str]]:
    """Whether ``value`` meets every criterion, its attainment, and notes."""
    met, attainment, notes = True, 1.0, []
    for criterion in criteria:
        threshold = criterion.threshold(baseline)
        if threshold is None:
            notes.append(f"{criterion.text}: no earlier passing result of gate {gate} for "
                         f"{service} to compare with, so it counts as met")
            continue
        if not _holds(criterion.op, value, threshold):
            met = False
            attainment = min(attainment, _ratio(criterion.op, value, threshold))
    return met, attainment, notes


def _holds(op: Op, value: float, threshold: float) -> bool:
    return {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold,
            "<": value < threshold, "==": value == threshold}[op]


def _ratio(op: Op, value: float, threshold: float) -> float:
    """How close a value that missed came to ``threshold``, 0..1."""
    if threshold <= 0 or op == "==":
        return 0.0
    if op in (">=", ">"):
        return min(1.0, max(0.0, value) / threshold)
    return min(1.0, threshold / value)


def _criteria(texts: tuple[str, ...], row: ObjectiveResult) -> str:
    """Criteria as written, a relative one followed by the threshold it came to."""
    shown = []
    for text in texts:
        criterion = parse_criterion(text)
        threshold = criterion.threshold(row.baseline)
        relative = criterion.relative != "absolute"
        shown.append(f"{text} ({_num(threshold)})" if relative and threshold is not None
                     else text)
    return ", ".join(shown)


def _num(value: float) -> str:
    """A number without needless decimals: 97.5, 100, 0.85, 85.33."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
