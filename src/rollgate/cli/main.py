"""The rollgate command line.

Exit codes: 0 live and healthy · 1 failed, rolled back or cancelled · 2 bad input ·
3 refused by a lock or a policy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from rollgate.cli import (
    audit_cmds,
    checklist_cmds,
    data_cmds,
    gate_cmds,
    incident_cmds,
    notice_cmds,
    notify_cmds,
    oncall_cmds,
    remote_cmds,
    report_cmds,
    runs_cmds,
    spec_cmds,
    target_cmds,
    users_cmds,
)
from rollgate.cli.common import app_state
from rollgate.cli.render import err_console
from rollgate.engine.runtime import exit_abandoning
from rollgate.errors import RollgateError

app = typer.Typer(
    name="rollgate",
    help="Deployment, rollback and incident runbooks as code that runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    spec: Annotated[Path | None, typer.Option("--spec", "-f", envvar="ROLLGATE_SPEC",
                                              help="spec file (default rollgate.yaml)")] = None,
    server: Annotated[str | None, typer.Option(
        "--server", envvar="ROLLGATE_SERVER",
        help="run deploy, rollback, approve, cancel, resume, status, history and runs show "
             "through this `rollgate serve` (after `rollgate login`)")] = None,
) -> None:
    """Deployment, rollback and incident runbooks as code that runs."""
    app_state.spec = spec
    app_state.server = server


spec_cmds.register(app)
runs_cmds.register(app)
target_cmds.register(app)
data_cmds.register(app)
audit_cmds.register(app)
users_cmds.register(app)
remote_cmds.register(app)
gate_cmds.register(app)
checklist_cmds.register(app)
notice_cmds.register(app)
oncall_cmds.register(app)
incident_cmds.register(app)
report_cmds.register(app)
notify_cmds.register(app)


def main() -> None:
    """Entry point: run the CLI and map errors to exit codes and one red line."""
    code = 0
    try:
        result = app(standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except RollgateError as exc:
        if app_state.json_errors:
            sys.stdout.write(json.dumps({"error": exc.code, "message": exc.message}) + "\n")
        err_console.print(f"error: {exc.message}", style="red", markup=False, soft_wrap=True)
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("aborted", style="red")
        code = 1
    except click.ClickException as exc:
        exc.show()
        code = 2
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    finally:
        driven = app_state.close()
    if driven:
        exit_abandoning(driven, code or 1)
    sys.exit(code)
