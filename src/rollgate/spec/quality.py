"""Quality gates in rollgate.yaml: weighted objectives that decide DEPLOY, REMEDIATE or BLOCK.

A gate is named under ``quality_gates:`` and run with ``rollgate gate NAME --service S``::

    quality_gates:
      release:
        pass: 90%                 # total score needed to deploy
        warning: 75%              # below this the release is blocked
        compare_with: 3           # relative criteria: mean of the last 3 passing results
        objectives:
          unit_tests:
            display: Unit Tests
            input: {kind: junit, paths: ["reports/unit/*.xml"]}
            pass: ">=100"
            key: true             # failing it fails the gate whatever the score
          coverage:
            input: {kind: coverage, path: coverage.xml}
            pass: ">=80"
            warning: ">=70"
          p95:
            input: {kind: value}  # rollgate gate release --service web --value p95=412
            unit: ms
            pass: ["<=500", "<=+10%"]
            warning: "<=800"
          lint:
            input: {kind: exit-code, run: ruff check src}
            pass: "==0"

A criterion is ``OP NUMBER`` with OP one of ``>=``, ``<=``, ``>``, ``<``, ``==``. Written with
a sign (``<=+10%``, ``>=-5%``, ``<=+50``) it is relative: the number is a change allowed from
the mean of the objective's values in the last ``compare_with`` passing (DEPLOY) results of
the same gate and service, in percent of that mean or in the objective's unit. Without a
sign, a trailing ``%`` is only the unit (``>=90%`` is ``>=90``). Criteria start with ``<`` or
``>``, so quote them in YAML. Several criteria in a list must all hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from rollgate.spec.base import Model
from rollgate.spec.durations import Duration

Op = Literal[">=", "<=", ">", "<", "=="]
CRITERION = r"^\s*(>=|<=|==|>|<)\s*([+-])?\s*(\d+(?:\.\d+)?)\s*(%)?\s*$"
_CRITERION = re.compile(CRITERION)

ObjectiveName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]


@dataclass(frozen=True)
class Criterion:
    """One parsed criterion: ``op`` against ``amount``, absolute or relative to a baseline."""

    text: str
    op: Op
    amount: float  # signed when relative
    relative: Literal["absolute", "percent", "delta"]

    def threshold(self, baseline: float | None) -> float | None:
        """The number the value is compared with; None for a relative one without baseline."""
        if self.relative == "absolute":
            return self.amount
        if baseline is None:
            return None
        if self.relative == "percent":
            return baseline + abs(baseline) * self.amount / 100
        return baseline + self.amount


def parse_criterion(text: str) -> Criterion:
    """Parse ``>=90``, ``<=+10%``, ``==0``...; raise ValueError saying what is allowed."""
    match = _CRITERION.fullmatch(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a criterion: write OP NUMBER with OP one of >=, <=, >, <, == "
            "(e.g. '>=90', '<=500'), or a change from earlier releases with a sign "
            "(e.g. '<=+10%')"
        )
    text_op, sign, number, percent = match.groups()
    op, amount = cast(Op, text_op), float(number)
    if not sign:
        return Criterion(text=text.strip(), op=op, amount=amount, relative="absolute")
    return Criterion(text=text.strip(), op=op, amount=-amount if sign == "-" else amount,
                     relative="percent" if percent else "delta")


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _check_criteria(criteria: list[str]) -> list[str]:
    for text in criteria:
        parse_criterion(text)
    return criteria


Criteria = Annotated[
    list[str],
    BeforeValidator(_as_list),
    AfterValidator(_check_criteria),
    WithJsonSchema({
        "anyOf": [
            {"type": "string", "pattern": CRITERION},
            {"type": "array", "items": {"type": "string", "pattern": CRITERION}},
        ],
        "description": "a criterion such as '>=90', '<=500' or '<=+10%', or a list of them "
                       "that must all hold",
    }),
]


def _percent(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a percentage like 90%")
    if isinstance(value, str):
        try:
            return float(value.strip().removesuffix("%"))
        except ValueError:
            raise ValueError(f"must be a percentage like 90% (got {value!r})") from None
    return value


Percent = Annotated[
    float,
    BeforeValidator(_percent),
    Field(ge=0, le=100),
    PlainSerializer(lambda v: f"{v:g}%", return_type=str, when_used="json"),
    WithJsonSchema({
        "anyOf": [
            {"type": "string", "pattern": r"^\d+(\.\d+)?%?$"},
            {"type": "number", "minimum": 0, "maximum": 100},
        ],
        "description": "a percentage: 90% or 90",
    }),
]

Paths = Annotated[list[str], BeforeValidator(_as_list)]


class JunitInput(Model):
    """The pass rate, in percent, of the test cases in JUnit XML files."""

    kind: Literal["junit"] = Field(description="selects this input")
    paths: Paths = Field(
        default_factory=list,
        description="glob patterns of JUnit XML files, relative to the spec (`**` spans "
        "folders); every match counts. `--junit NAME=GLOB` replaces them",
    )


class CoverageInput(Model):
    """The line rate, in percent, of a Cobertura XML coverage report."""

    kind: Literal["coverage"] = Field(description="selects this input")
    path: str | None = Field(
        None,
        description="the Cobertura XML file, relative to the spec. `--coverage NAME=FILE` "
        "replaces it",
    )


class ValueInput(Model):
    """A number given on the command line or printed by a command."""

    kind: Literal["value"] = Field(description="selects this input")
    run: str | None = Field(
        None,
        description="shell command (sh -c, in the spec's folder) whose last line of output "
        "is the number; `--value NAME=NUMBER` wins over it, and without it is required",
    )
    timeout: Duration = Field(60.0, gt=0, description="how long `run` may take")


class ExitCodeInput(Model):
    """The exit code of a command (e.g. a linter or a scanner)."""

    kind: Literal["exit-code"] = Field(description="selects this input")
    run: str = Field(description="shell command (sh -c, in the spec's folder)")
    timeout: Duration = Field(600.0, gt=0, description="how long the command may take")


Input = Annotated[
    JunitInput | CoverageInput | ValueInput | ExitCodeInput, Field(discriminator="kind")
]


class Objective(Model):
    """One measured value with its criteria and weight."""

    model_config = ConfigDict(populate_by_name=True)

    display: str | None = Field(None, description="name shown in the table (default: the key)")
    input: Input = Field(description="where the value comes from")
    pass_: Criteria = Field(
        alias="pass", min_length=1, description="criteria the value must meet to pass"
    )
    warning: Criteria = Field(
        default_factory=list,
        description="looser criteria: a value that misses `pass` but meets these is a warning, "
        "not a failure",
    )
    weight: float = Field(
        1.0, ge=0, description="share of the total score (0: shown and recorded, not scored)"
    )
    key: bool = Field(
        False, description="a key objective that fails sends the release to REMEDIATE "
        "whatever the total score"
    )
    unit: str | None = Field(
        None, max_length=16, description="unit shown after the value (default: % for junit "
        "and coverage)"
    )

    def pass_criteria(self) -> list[Criterion]:
        """The parsed ``pass`` criteria."""
        return [parse_criterion(text) for text in self.pass_]

    def warning_criteria(self) -> list[Criterion]:
        """The parsed ``warning`` criteria."""
        return [parse_criterion(text) for text in self.warning]

    def shown_unit(self) -> str:
        """The unit printed after values."""
        if self.unit is not None:
            return self.unit
        return "%" if isinstance(self.input, JunitInput | CoverageInput) else ""


class QualityGate(Model):
    """Objectives scored into a total that decides DEPLOY, REMEDIATE or BLOCK."""

    model_config = ConfigDict(populate_by_name=True)

    description: str | None = Field(None, description="what the gate protects")
    objectives: dict[ObjectiveName, Objective] = Field(
        min_length=1, description="objectives by name, in the order they are shown"
    )
    pass_: Percent = Field(
        90.0, alias="pass",
        description="total score (percent) at or above which the release may deploy",
    )
    warning: Percent = Field(
        75.0, description="total score (percent) below which the release is blocked"
    )
    compare_with: int = Field(
        1, ge=1, le=100,
        description="relative criteria compare with the mean of this many latest passing "
        "(DEPLOY) results of the gate for the same service",
    )

    @model_validator(mode="after")
    def _consistent(self) -> QualityGate:
        if self.warning > self.pass_:
            raise ValueError(f"warning ({self.warning:g}%) must not be above pass "
                             f"({self.pass_:g}%)")
        if not any(o.weight > 0 for o in self.objectives.values()):
            raise ValueError("at least one objective needs a weight above 0")
        return self
