"""Measuring a gate's objectives: test reports, coverage, given numbers, commands.

Everything is measured before anything is scored or recorded, so one bad report fails the
whole evaluation with an error that names it, and nothing is kept.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rollgate.errors import UsageError
from rollgate.gates.reports import expand, read_cobertura, read_junit, shown
from rollgate.redact import excerpt, redact, secret_values
from rollgate.spec.quality import (
    CoverageInput,
    ExitCodeInput,
    JunitInput,
    Objective,
    QualityGate,
    ValueInput,
)


@dataclass(frozen=True)
class GateInputs:
    """What one evaluation reads besides the spec.

    ``reports`` replaces an objective's spec paths (JUnit globs, or one Cobertura file),
    relative to ``reports_dir``; ``values`` gives numbers directly (they win over a ``run``
    command). The spec's relative paths and its commands resolve in ``base_dir`` (the spec's
    folder); ``env`` is added to the commands' environment.
    """

    base_dir: Path = field(default_factory=Path.cwd)
    reports_dir: Path = field(default_factory=Path.cwd)
    reports: Mapping[str, Sequence[str]] = field(default_factory=dict)
    values: Mapping[str, float] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Measurement:
    """An objective's value and where it came from (e.g. ``17/20 passed (2 files)``)."""

    value: float
    source: str


def measure(gate: QualityGate, inputs: GateInputs) -> dict[str, Measurement]:
    """Measure every objective of ``gate``; raise UsageError on the first bad input."""
    _check_given(gate, inputs)
    # Reports first: a missing one is found before any command runs (a linter can be slow).
    reads_reports = [n for n, o in gate.objectives.items()
                     if isinstance(o.input, JunitInput | CoverageInput)]
    measured = {name: _measure(name, gate.objectives[name], inputs) for name in reads_reports}
    measured |= {name: _measure(name, objective, inputs)
                 for name, objective in gate.objectives.items() if name not in measured}
    return {name: measured[name] for name in gate.objectives}


def _check_given(gate: QualityGate, inputs: GateInputs) -> None:
    """Refuse reports and values given for objectives that do not take them."""
    unknown = sorted((set(inputs.reports) | set(inputs.values)) - set(gate.objectives))
    if unknown:
        raise UsageError(f"unknown objective {unknown[0]!r} (the gate has "
                         f"{', '.join(gate.objectives)})")
    for name, objective in gate.objectives.items():
        source = objective.input
        if isinstance(source, ValueInput | ExitCodeInput) and name in inputs.reports:
            raise UsageError(f"objective {name!r} reads no report file (its input is "
                             f"{source.kind}); give --value {name}=NUMBER instead")
        if not isinstance(source, ValueInput) and name in inputs.values:
            what = ("JUnit reports" if isinstance(source, JunitInput) else
                    "a Cobertura report" if isinstance(source, CoverageInput) else
                    f"the exit code of `{source.run}`")
            raise UsageError(f"objective {name!r} is measured from {what}, not given: drop "
                             f"--value {name}=...")


def _measure(name: str, objective: Objective, inputs: GateInputs) -> Measurement:
    source = objective.input
    given = inputs.values.get(name)
    if isinstance(source, JunitInput):
        given_paths = list(inputs.reports.get(name, ()))
        if not (given_paths or source.paths):
            raise UsageError(f"objective {name!r} needs JUnit reports: set input.paths in "
                             f"the spec or give --junit {name}=GLOB")
        files = (expand(given_paths, inputs.reports_dir, "JUnit") if given_paths
                 else expand(source.paths, inputs.base_dir, "JUnit"))
        counts = read_junit(files)
        return Measurement(counts.pass_rate, counts.summary())
    if isinstance(source, CoverageInput):
        given_paths = list(inputs.reports.get(name, ()))
        if len(given_paths) > 1 or not (given_paths or source.path):
            raise UsageError(f"objective {name!r} needs one Cobertura file: set input.path "
                             f"in the spec or give --coverage {name}=FILE once")
        path = (inputs.reports_dir / given_paths[0] if given_paths
                else inputs.base_dir / str(source.path))
        coverage = read_cobertura(path)
        return Measurement(coverage.percent, f"{coverage.summary()} ({shown(path)})")
    if isinstance(source, ExitCodeInput):
        code, _ = _run(name, source.run, source.timeout, inputs)
        return Measurement(float(code), f"exit {code} of `{source.run}`")
    if given is not None:
        if not math.isfinite(given):
            raise UsageError(f"--value {name}: must be a finite number")
        return Measurement(given, "given")
    if source.run is None:
        raise UsageError(f"objective {name!r} needs a value: give --value {name}=NUMBER")
    code, out = _run(name, source.run, source.timeout, inputs)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    number = _number(lines[-1]) if lines else None
    if code != 0 or number is None:
        said = f": {excerpt(lines[-1], 200)!r}" if lines else " nothing"
        raise UsageError(f"objective {name!r}: `{source.run}` exited {code} and printed"
                         f"{said}; it must exit 0 and print the number on its last line")
    return Measurement(number, f"printed by `{source.run}`")


def _number(text: str) -> float | None:
    try:
        value = float(text.removesuffix("%"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _run(name: str, command: str, timeout: float, inputs: GateInputs) -> tuple[int, str]:
    """Run ``command`` through the shell; return its exit code and its redacted stdout."""
    env = {**os.environ, **inputs.env}
    try:
        # A session of its own, so a timeout stops the command's children too.
        proc = subprocess.Popen(["/bin/sh", "-c", command], cwd=inputs.base_dir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                start_new_session=True)
    except OSError as exc:
        raise UsageError(f"objective {name!r}: cannot run `{command}`: {exc.strerror}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise UsageError(f"objective {name!r}: `{command}` took longer than {timeout:g}s "
                         "(raise input.timeout, or make it faster)") from None
    return proc.returncode, redact(out, secret_values(env))
