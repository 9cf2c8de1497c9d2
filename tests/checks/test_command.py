"""``kind: command``: a shell command judged by its exit code."""

from __future__ import annotations

import pytest

from tests.checks.contract import Case, CheckKindContract
from tests.checks.helpers import SECRET, context, run


class TestCommandContract(CheckKindContract):
    kind = "command"

    @pytest.fixture
    def passing(self) -> Case:
        return Case({"kind": "command", "run": "echo ready at $ROLLGATE_URL"},
                    context(base_url="http://127.0.0.1:8080"),
                    "exit 0: ready at http://127.0.0.1:8080")

    @pytest.fixture
    def failing(self) -> Case:
        return Case({"kind": "command", "run": "echo migrations pending >&2; exit 3"},
                    context(), "exit 3: migrations pending")

    @pytest.fixture
    def unreachable(self) -> Case:
        return Case({"kind": "command", "run": "no-such-tool-here --check"}, context(),
                    "exit 127")


def test_the_service_environment_reaches_the_command() -> None:
    result = run({"kind": "command", "run": 'test "$REGION" = eu-west'},
                 context(env={"REGION": "eu-west"}, environ={"PATH": "/usr/bin:/bin"}))
    assert result.ok, result.detail


def test_an_expected_nonzero_exit_passes() -> None:
    assert run({"kind": "command", "run": "exit 2", "expect_exit": 2}, context()).ok


def test_a_slow_command_times_out() -> None:
    result = run({"kind": "command", "run": "sleep 5", "timeout": "200ms"}, context())
    assert (result.ok, result.detail) == (False, "timed out after 0.2s")
    assert result.duration_ms < 2000


def test_a_secret_the_command_prints_is_masked() -> None:
    result = run({"kind": "command", "run": "echo token=$API_TOKEN; exit 1"},
                 context(env={"API_TOKEN": SECRET}))
    assert not result.ok
    assert SECRET not in result.detail
    assert "token=********" in result.detail
