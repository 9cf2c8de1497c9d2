"""Reading test reports: JUnit XML (pass rate) and Cobertura XML (line coverage).

Errors name the file, and the line for XML that is not well-formed, and say what to do. The
standard library's parser does not fetch external entities, and the expat it ships with
refuses entity-expansion bombs, so untrusted reports cannot reach out or blow up memory.
"""

from __future__ import annotations

import glob
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from rollgate.errors import UsageError


@dataclass(frozen=True)
class JunitCounts:
    """Test cases found in one or more JUnit reports."""

    tests: int
    failures: int
    errors: int
    skipped: int
    files: int

    @property
    def ran(self) -> int:
        """Test cases that ran (not skipped)."""
        return self.tests - self.skipped

    @property
    def passed(self) -> int:
        """Test cases that ran and neither failed nor errored."""
        return self.ran - self.failures - self.errors

    @property
    def pass_rate(self) -> float:
        """Passed test cases in percent of those that ran."""
        return 100.0 * self.passed / self.ran

    def __add__(self, other: JunitCounts) -> JunitCounts:
        return JunitCounts(self.tests + other.tests, self.failures + other.failures,
                           self.errors + other.errors, self.skipped + other.skipped,
                           self.files + other.files)

    def summary(self) -> str:
        """``17/20 passed, 2 failed, 1 error, 1 skipped (2 files)``."""
        parts = [f"{self.passed}/{self.ran} passed"]
        parts += [f"{n} {word}" for n, word in ((self.failures, "failed"),
                                               (self.errors, "errors"),
                                               (self.skipped, "skipped")) if n]
        return ", ".join(parts) + f" ({self.files} file{'s' if self.files != 1 else ''})"


@dataclass(frozen=True)
class Coverage:
    """The line coverage of a Cobertura report."""

    line_rate: float  # 0..1
    lines_covered: int | None
    lines_valid: int | None

    @property
    def percent(self) -> float:
        """Covered lines in percent."""
        return 100.0 * self.line_rate

    def summary(self) -> str:
        """``412/500 lines``, or the rate when the report does not count lines."""
        if self.lines_covered is not None and self.lines_valid:
            return f"{self.lines_covered}/{self.lines_valid} lines"
        return f"line-rate {self.line_rate:g}"


def expand(patterns: list[str], base_dir: Path, what: str) -> list[Path]:
    """The files matching glob ``patterns`` (relative ones from ``base_dir``), sorted."""
    found: list[Path] = []
    for pattern in patterns:
        if Path(pattern).is_absolute():
            matches = [Path(m) for m in glob.glob(pattern, recursive=True)]
        else:
            matches = [base_dir / m for m in glob.glob(pattern, root_dir=base_dir,
                                                       recursive=True)]
        matches = sorted(m for m in matches if m.is_file())
        if not matches:
            where = "" if Path(pattern).is_absolute() else f" in {base_dir}"
            raise UsageError(f"no {what} file matches {pattern!r}{where}: run the step that "
                             "writes it first, or fix the path")
        found += [m for m in matches if m not in found]
    return found


def read_junit(paths: list[Path]) -> JunitCounts:
    """Count the test cases of JUnit XML files; raise UsageError naming a bad file."""
    total = JunitCounts(0, 0, 0, 0, 0)
    for path in paths:
        total += _junit_file(path)
    if total.ran == 0:
        names = ", ".join(shown(p) for p in paths)
        raise UsageError(f"{names}: no test case ran, so there is no pass rate; check that "
                         "the tests were collected")
    return total


def read_cobertura(path: Path) -> Coverage:
    """The line coverage of a Cobertura XML file; raise UsageError naming a bad file."""
    root = _parse(path, "Cobertura")
    if root.tag != "coverage":
        raise UsageError(f"{shown(path)}: not a Cobertura report (the root element is "
                         f"<{root.tag}>, expected <coverage>); write it with e.g. "
                         "`coverage xml` or `pytest --cov-report=xml`")
    covered = _int_attr(root, "lines-covered", path)
    valid = _int_attr(root, "lines-valid", path)
    rate_text = root.get("line-rate")
    if rate_text is not None:
        try:
            rate = float(rate_text)
        except ValueError:
            raise UsageError(f"{shown(path)}: line-rate {rate_text!r} is not a number") from None
    elif covered is not None and valid:
        rate = covered / valid
    else:
        raise UsageError(f"{shown(path)}: <coverage> has no line-rate (nor lines-covered and "
                         "lines-valid); is it a Cobertura report?")
    if not 0.0 <= rate <= 1.0:
        raise UsageError(f"{shown(path)}: line-rate {rate_text} is outside 0..1")
    return Coverage(line_rate=rate, lines_covered=covered, lines_valid=valid)


def shown(path: Path) -> str:
    """A path as the user sees it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _parse(path: Path, what: str) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except FileNotFoundError:
        raise UsageError(f"{shown(path)}: no such {what} file: run the step that writes it "
                         "first, or fix the path") from None
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise UsageError(f"{shown(path)}:{line}: not well-formed {what} XML ({reason} at "
                         f"column {column + 1}); regenerate the report") from None
    except OSError as exc:
        raise UsageError(f"{shown(path)}: cannot read: {exc.strerror}") from None


def _junit_file(path: Path) -> JunitCounts:
    root = _parse(path, "JUnit")
    if root.tag not in ("testsuites", "testsuite"):
        raise UsageError(f"{shown(path)}: not a JUnit report (the root element is "
                         f"<{root.tag}>, expected <testsuites> or <testsuite>)")
    cases = list(root.iter("testcase"))
    if cases:
        failures = errors = skipped = 0
        for case in cases:
            if case.find("skipped") is not None:
                skipped += 1
            elif case.find("error") is not None:
                errors += 1
            elif case.find("failure") is not None:
                failures += 1
        return JunitCounts(len(cases), failures, errors, skipped, 1)
    # Some tools write only the counts: read them from the innermost suites.
    suites = [s for s in root.iter("testsuite") if s.find("testsuite") is None]
    total = JunitCounts(0, 0, 0, 0, 1)
    for suite in suites:
        tests, failures, errors, skipped = (_int_attr(suite, a, path) or 0 for a in
                                            ("tests", "failures", "errors", "skipped"))
        total += JunitCounts(tests, failures, errors, skipped, 0)
    return total


def _int_attr(element: ET.Element, name: str, path: Path) -> int | None:
    text = element.get(name)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise UsageError(f"{shown(path)}: <{element.tag}> {name}={text!r} is not a "
                         "number") from None
