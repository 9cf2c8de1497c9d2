"""gate: score a release against a quality gate; exit 0 only for DEPLOY."""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Annotated

import typer

from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json
from rollgate.errors import NotFoundError, UsageError
from rollgate.gates.measure import GateInputs
from rollgate.gates.quality_service import run_gate
from rollgate.runs.service import default_actor
from rollgate.spec.quality import CoverageInput, JunitInput, QualityGate

_PREFIX = re.compile(r"^([a-z][a-z0-9_-]{0,62})=(.*)$")


def register(app: typer.Typer) -> None:
    """Add the gate command to the app."""

    @app.command()
    def gate(
        name: Annotated[str, typer.Argument(metavar="GATE", help="a gate of quality_gates")],
        service: Annotated[str, typer.Option("--service", "-s", help="the service judged")],
        version: Annotated[str | None, typer.Option(
            "--version", "-v", help="the version judged (recorded; its own earlier results "
            "are not its baseline)")] = None,
        junit: Annotated[list[str] | None, typer.Option(
            "--junit", metavar="[OBJECTIVE=]GLOB",
            help="JUnit XML files for an objective (repeatable; replaces the spec's paths)"),
        ] = None,
        coverage: Annotated[list[str] | None, typer.Option(
            "--coverage", metavar="[OBJECTIVE=]FILE",
            help="a Cobertura XML file for an objective (replaces the spec's path)")] = None,
        value: Annotated[list[str] | None, typer.Option(
            "--value", metavar="OBJECTIVE=NUMBER", help="a value objective's number "
            "(repeatable)")] = None,
        record: Annotated[bool, typer.Option(
            "--record/--no-record", help="keep the result in the store (relative criteria "
            "compare with recorded DEPLOY results)")] = True,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Score a release against a quality gate: DEPLOY (exit 0), REMEDIATE or BLOCK (1).

        Each objective earns its weight in proportion to how close it came to its pass
        criteria; a failed key objective means REMEDIATE whatever the score. Bad or missing
        reports are an error (exit 2) and nothing is recorded.
        """
        app_state.json_errors = as_json
        project = app_state.project()
        gates = project.spec.quality_gates
        if name not in gates:
            close = difflib.get_close_matches(name, gates, n=1)
            hint = f"did you mean {close[0]!r}?" if close else \
                f"defined: {', '.join(gates) or 'none'}"
            raise NotFoundError(f"no quality gate {name!r} in the spec ({hint})")
        if service not in project.spec.services:
            close = difflib.get_close_matches(service, project.spec.services, n=1)
            hint = f"did you mean {close[0]!r}?" if close else \
                f"defined: {', '.join(project.spec.services)}"
            raise NotFoundError(f"no service {service!r} in the spec ({hint})")
        spec_gate = gates[name]
        reports: dict[str, list[str]] = {}
        for text in junit or []:
            objective, path = _target(spec_gate, text, JunitInput, "--junit")
            reports.setdefault(objective, []).append(path)
        for text in coverage or []:
            objective, path = _target(spec_gate, text, CoverageInput, "--coverage")
            reports.setdefault(objective, []).append(path)
        inputs = GateInputs(base_dir=project.spec_dir, reports_dir=Path.cwd(),
                            reports=reports, values=_values(value or []),
                            env={"ROLLGATE_GATE": name, "ROLLGATE_SERVICE": service,
                                 "ROLLGATE_VERSION": version or ""})
        evaluation = run_gate(app_state.runtime().db, spec_gate, inputs, name=name,
                              service=service, version=version, actor=default_actor(),
                              record=record)
        result = evaluation.result
        if as_json:
            print_json({**result.to_dict(), "recorded": evaluation.recorded})
        else:
            console.print(result.table(), markup=False, soft_wrap=True)
        if result.decision != "DEPLOY":
            raise typer.Exit(1)


def _target(gate: QualityGate, text: str, kind: type[JunitInput | CoverageInput],
            option: str) -> tuple[str, str]:
    """``OBJECTIVE=PATH`` or ``PATH`` (when one objective reads that kind) -> both."""
    readers = [n for n, o in gate.objectives.items() if isinstance(o.input, kind)]
    match = _PREFIX.match(text)
    if match and match.group(1) in gate.objectives:
        if match.group(1) not in readers:
            raise UsageError(f"{option} {text}: objective {match.group(1)!r} does not read "
                             f"that kind of report (those that do: {', '.join(readers) or 'none'})")
        return match.group(1), match.group(2)
    if match:
        raise UsageError(f"{option} {text}: unknown objective {match.group(1)!r} (the gate "
                         f"has {', '.join(gate.objectives)})")
    if len(readers) != 1:
        which = ", ".join(readers) or "none"
        raise UsageError(f"{option} {text}: say which objective it is for, as OBJECTIVE=PATH "
                         f"(objectives reading it: {which})")
    return readers[0], text


def _values(texts: list[str]) -> dict[str, float]:
    """``--value OBJECTIVE=NUMBER`` options as a mapping."""
    values: dict[str, float] = {}
    for text in texts:
        objective, sep, number = text.partition("=")
        try:
            parsed = float(number.strip().removesuffix("%")) if sep else math.nan
        except ValueError:
            parsed = math.nan
        if not objective or not math.isfinite(parsed):
            raise UsageError(f"--value {text}: write OBJECTIVE=NUMBER, e.g. --value p95=412")
        values[objective] = parsed
    return values
