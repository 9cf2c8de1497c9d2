"""``kind: command``: a shell command that passes when it exits with the expected code."""

from __future__ import annotations

import subprocess
from typing import Literal

from pydantic import Field

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.spec.durations import Duration


class CommandCheck(CheckConfig):
    """A command that passes when it exits with the expected code."""

    kind: Literal["command"] = Field(description="selects this check")
    run: str = Field(
        description="shell command (sh -c); $ROLLGATE_URL is the public URL of the service"
    )
    expect_exit: int = Field(0, description="exit code that means the check passed")
    timeout: Duration = Field(60.0, description="how long the command may run")


@check_kind(CommandCheck)
def run_command(check: CommandCheck, ctx: CheckContext) -> CheckResult:
    """Run the command with the service's environment; judge its exit code."""
    full_env = {**ctx.variables, "ROLLGATE_URL": ctx.base_url or ""}
    try:
        # Through the shell, like the runbooks write them: pipes, $ROLLGATE_URL, &&.
        proc = subprocess.run(
            ["/bin/sh", "-c", check.run], capture_output=True, text=True,
            timeout=check.timeout, env=full_env, check=False,
        )
    except FileNotFoundError as exc:
        return ctx.failed(f"cannot run {check.run!r}: {exc.strerror}")
    except subprocess.TimeoutExpired:
        return ctx.failed(f"timed out after {check.timeout:g}s")
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    detail = f"exit {proc.returncode}" + (f": {' | '.join(tail)}" if tail else "")
    return ctx.result(proc.returncode == check.expect_exit, detail)
