"""JUnit and Cobertura reports: counts from real files, and errors that name the bad file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rollgate.errors import UsageError
from rollgate.gates.reports import expand, read_cobertura, read_junit

FIXTURES = Path(__file__).parent / "fixtures"
REPORTS = FIXTURES / "reports"
SEED = FIXTURES / "seed003"


def test_junit_counts_failures_errors_and_skips_per_test_case() -> None:
    counts = read_junit([REPORTS / "errors.xml"])
    assert (counts.tests, counts.failures, counts.errors, counts.skipped) == (5, 1, 1, 1)
    assert counts.pass_rate == 50.0
    assert counts.summary() == "2/4 passed, 1 failed, 1 errors, 1 skipped (1 file)"


def test_junit_without_test_cases_uses_the_suite_counts() -> None:
    counts = read_junit([REPORTS / "counts-only.xml"])
    assert (counts.ran, counts.passed) == (8, 6)
    assert counts.pass_rate == 75.0


def test_junit_glob_adds_up_every_matching_file() -> None:
    files = expand(["integration/*.xml"], SEED, "JUnit")
    assert [f.name for f in files] == ["api.xml", "db.xml"]
    counts = read_junit(files)
    assert (counts.passed, counts.ran, counts.files) == (5, 5, 2)


def test_pytest_report_with_three_failures_is_85_percent() -> None:
    counts = read_junit([SEED / "unit.xml"])
    assert (counts.passed, counts.ran, counts.failures) == (17, 20, 3)
    assert counts.pass_rate == 85.0


def test_cobertura_line_rate_in_percent() -> None:
    coverage = read_cobertura(REPORTS / "coverage.xml")
    assert coverage.percent == pytest.approx(82.0)
    assert coverage.summary() == "410/500 lines"


def test_cobertura_without_line_rate_uses_the_line_counts() -> None:
    assert read_cobertura(REPORTS / "coverage-counts-only.xml").percent == 75.0


@pytest.mark.parametrize(("name", "expected"), [
    ("truncated.xml", r"truncated\.xml:6: not well-formed JUnit XML \(mismatched tag at "
                      r"column 5\)"),
    ("garbage.xml", r"garbage\.xml:1: not well-formed JUnit XML \(syntax error"),
    ("empty.xml", r"empty\.xml:1: not well-formed JUnit XML \(no element found"),
    ("coverage.xml", r"coverage\.xml: not a JUnit report \(the root element is <coverage>"),
    ("all-skipped.xml", r"all-skipped\.xml: no test case ran"),
])
def test_bad_junit_file_is_named_with_its_line(name: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        read_junit([REPORTS / name])
    assert re.search(expected, caught.value.message), caught.value.message


def test_junit_glob_matching_nothing_names_the_pattern_and_folder() -> None:
    with pytest.raises(UsageError, match=r"no JUnit file matches 'reports/\*\.xml' in .*seed003"):
        expand(["reports/*.xml"], SEED, "JUnit")


@pytest.mark.parametrize(("name", "expected"), [
    ("missing.xml", r"missing\.xml: no such Cobertura file"),
    ("truncated.xml", r"truncated\.xml:6: not well-formed Cobertura XML"),
    ("errors.xml", r"errors\.xml: not a Cobertura report \(the root element is <testsuite>"),
])
def test_bad_cobertura_file_is_named(name: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        read_cobertura(REPORTS / name)
    assert re.search(expected, caught.value.message), caught.value.message


def test_bad_line_rate_is_named(tmp_path: Path) -> None:
    report = tmp_path / "coverage.xml"
    report.write_text('<coverage line-rate="lots"/>')
    with pytest.raises(UsageError, match="line-rate 'lots' is not a number"):
        read_cobertura(report)
    report.write_text('<coverage line-rate="1.7"/>')
    with pytest.raises(UsageError, match=r"line-rate 1\.7 is outside 0\.\.1"):
        read_cobertura(report)


def test_external_entities_are_not_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t")
    report = tmp_path / "evil.xml"
    report.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM "file://{secret}">]>'
                      '\n<testsuite><testcase name="&x;"/></testsuite>\n')
    with pytest.raises(UsageError, match=r"evil\.xml:3: not well-formed JUnit XML"):
        read_junit([report])
