"""deploy, rollback, resume, cancel, history, runs show."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from rollgate.cli import remote_cmds
from rollgate.cli.common import app_state
from rollgate.cli.render import (
    checks_table,
    console,
    err_console,
    follow,
    print_json,
    runs_table,
    steps_table,
    summary_line,
)
from rollgate.errors import UsageError
from rollgate.runs import service
from rollgate.runs.commits import deploy_params
from rollgate.runs.views import run_dict
from rollgate.store import checks as check_store
from rollgate.store import runs as run_store

Env = Annotated[str, typer.Option("--env", "-e", help="environment")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]


_OUTCOME_STYLE = {"pass": "green", "warning": "yellow", "wait": "yellow", "block": "red",
                  "info": "dim"}


def show_plan(service_name: str, env: str, version: str, *, as_json: bool,
              traffic: float = 100.0, baseline_errors: float = 0.001, wait: bool = False,
              emergency: bool = False, major: bool = False) -> bool:
    """Print a deploy's gates (judged now), steps and detection estimates; True when it
    would start (with ``emergency``, time gates do not stop it)."""
    from rollgate.runs import gates
    from rollgate.runs.planning import detection_estimates, plan_for

    project = app_state.project()
    rt = app_state.runtime()
    lines = gates.report(rt, project, service=service_name, environment=env, version=version,
                         major=major)
    stopping = [g for g in gates.blocked(lines, wait=wait)
                if not (emergency and g.gate in ("window", "freeze", "notice", "quality"))]
    the_plan, steps = plan_for(rt, project, service=service_name, environment=env,
                               version=version)
    estimates = detection_estimates(project.spec, the_plan, traffic, baseline_errors)
    if as_json:
        print_json({"live": the_plan.live, "version": version,
                    "strategy": the_plan.strategy["kind"], "would_start": not stopping,
                    "gates": [g.as_dict() for g in lines],
                    "steps": [{"name": s.name, "action": s.action} for s in steps],
                    "time_to_detect": estimates})
        return not stopping
    console.print(f"[bold]plan[/]: {service_name} {the_plan.live or '(nothing live)'} → "
                  f"{version} in {env} ({the_plan.strategy['kind']}, "
                  f"{the_plan.replicas} replica(s))")
    if lines:
        gate_table = Table(title="gates, judged now", header_style="bold")
        for col in ("gate", "outcome", "detail"):
            gate_table.add_column(col)
        for g in lines:
            gate_table.add_row(g.gate, f"[{_OUTCOME_STYLE[g.outcome]}]{g.outcome}[/]", g.detail)
        console.print(gate_table)
    for number, step in enumerate(steps, 1):
        console.print(f"  {number:>2}. {step.name}")
    console.print("on failure: before traffic moves, the new version is stopped; after, "
                  + ("traffic goes back to the live version (auto_rollback)"
                     if the_plan.auto_rollback else "things stay as they are"))
    if the_plan.migrations:
        undo = ("downgraded" if the_plan.on_failure == "downgrade"
                else "restored from the backup taken before it")
        console.print(f"a failed migration: {the_plan.database} is {undo} behind "
                      "maintenance mode, and the live version keeps serving")
    if estimates:
        table = Table(title=f"expected time to detect at {traffic:g} req/s "
                            f"(stable 5xx {baseline_errors:.2%}; simulated)",
                      header_style="bold")
        for col in ("analysis", "canary weight", "regression", "median time to detect"):
            table.add_column(col)
        for e in estimates:
            ttd = "not caught within 1h" if e["seconds"] is None else f"{e['seconds']:.0f}s"
            table.add_row(e["analysis"], f"{e['weight']}%", e["regression"], ttd)
        console.print(table)
    if stopping:
        console.print("[red]would not start[/]: "
                      + "; ".join(f"{g.gate}: {g.detail}" for g in stopping))
    else:
        console.print("[green]would start[/]")
    return not stopping


def _exit_for(status: str) -> None:
    if status != run_store.SUCCEEDED:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the run commands to the app."""

    @app.command()
    def deploy(
        service_name: Annotated[str, typer.Argument(metavar="SERVICE")],
        env: Env,
        version: Annotated[str, typer.Option("--version", "-v", help="version to deploy")],
        wait: Annotated[bool, typer.Option(
            help="wait for an active run, or for the deploy window to open, instead of "
                 "refusing")] = False,
        allow_destructive: Annotated[bool, typer.Option(
            "--allow-destructive", help="let migrations drop or rewrite tables and columns")
        ] = False,
        emergency: Annotated[bool, typer.Option(
            "--emergency", help="override deploy windows and freezes (needs --reason and an "
            "approver of the environment; recorded)")] = False,
        reason: Annotated[str | None, typer.Option(
            help="why (required with --emergency; recorded)")] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="judge every gate now and show the steps; change nothing "
            "(exit 0: it would start)")] = False,
        major: Annotated[bool, typer.Option(
            "--major", help="a major change: needs announced maintenance covering now, "
            "posted long enough before (policies.major_notice, 72 h)")] = False,
        commit: Annotated[str | None, typer.Option(
            "--commit", help="the commit sha the version was built from (recorded with a new "
            "release; default: what the version names in the promotion repository)")] = None,
        committed_at: Annotated[str | None, typer.Option(
            "--committed-at", metavar="ISO", help="when that commit was made (ISO 8601; UTC "
            "without a zone): lead time for changes starts there (default: from git)")] = None,
        as_json: Json = False,
    ) -> None:
        """Deploy a version with the environment's strategy; exit 0 when live and healthy.

        Outside the environment's deploy windows or during a freeze it is refused with the
        next opening; --wait waits for it, --emergency --reason overrides. Approvals the
        environment requires come from other people. A service with a database is backed
        up first; pending migrations are checked (a destructive plan is refused without
        --allow-destructive) and applied before the new version starts. A failed migration
        restores the backup and the run fails.
        """
        app_state.json_errors = as_json
        if emergency and not (reason or "").strip():
            raise UsageError("--emergency needs --reason 'what is on fire' (it is recorded)")
        commit_params = deploy_params(commit, committed_at)
        if dry_run:
            proceeds = show_plan(service_name, env, version, as_json=as_json, wait=wait,
                                 emergency=emergency, major=major)
            raise typer.Exit(0 if proceeds else 1)
        if (client := app_state.remote()) is not None:
            remote_cmds.deploy(client, service=service_name, environment=env, version=version,
                               allow_destructive=allow_destructive, as_json=as_json,
                               emergency=reason if emergency else None, wait=wait,
                               major=major, commit=commit, committed_at=committed_at)
            return
        project = app_state.project()
        rt = app_state.runtime()

        def waiting(run_id: str) -> None:
            err_console.print(f"waiting for run {run_id} to finish…")

        run_id = service.deploy(rt, project, service=service_name, environment=env,
                                version=version, actor=service.default_actor(), wait=wait,
                                on_wait=waiting, allow_destructive=allow_destructive,
                                emergency=reason if emergency else None, major=major,
                                extra=commit_params or None)
        run = follow(rt, run_id, quiet=as_json)
        if as_json:
            with rt.db.session() as s:
                print_json(run_dict(run, run_store.list_steps(session=s, run_id=run_id)))
        _exit_for(run.status)

    @app.command()
    def promote(
        service_name: Annotated[str, typer.Argument(metavar="SERVICE")],
        source: Annotated[str, typer.Option("--from", help="environment it passed")],
        dest: Annotated[str, typer.Option("--to", help="environment to deploy it to")],
        version: Annotated[str | None, typer.Option(
            "--version", "-v", help="the release (default: the one live in --from)")] = None,
        wait: Annotated[bool, typer.Option(
            help="wait for an active run or the deploy window instead of refusing")] = False,
        emergency: Annotated[bool, typer.Option(
            "--emergency", help="promote even what did not pass --from, outside windows and "
            "freezes (needs --reason and an approver; recorded)")] = False,
        reason: Annotated[str | None, typer.Option(help="why (with --emergency)")] = None,
        major: Annotated[bool, typer.Option(
            "--major", help="a major change (needs announced maintenance)")] = False,
        as_json: Json = False,
    ) -> None:
        """Deploy to --to exactly the release that passed --from; release notes from git,
        and the destination's git tag once it is live (spec `promotion`)."""
        app_state.json_errors = as_json
        if emergency and not (reason or "").strip():
            raise UsageError("--emergency needs --reason 'what is on fire' (it is recorded)")
        if (client := app_state.remote()) is not None:
            remote_cmds.promote(client, service=service_name, source=source, dest=dest,
                                version=version, emergency=reason if emergency else None,
                                wait=wait, as_json=as_json, major=major)
            return
        from rollgate.runs.promotion import promote as start_promotion

        project, rt = app_state.project(), app_state.runtime()
        started = start_promotion(rt, project, service=service_name, source=source, dest=dest,
                                  version=version, actor=service.default_actor(),
                                  emergency=reason if emergency else None, wait=wait,
                                  major=major)
        if not as_json:
            console.print(started.notes, markup=False)
        run = follow(rt, started.run_id, quiet=as_json)
        if as_json:
            with rt.db.session() as s:
                print_json({**run_dict(run, run_store.list_steps(session=s,
                                                                 run_id=run.id)),
                            "release_notes": started.notes})
        _exit_for(run.status)

    @app.command()
    def rollback(
        service_name: Annotated[str, typer.Argument(metavar="SERVICE")],
        env: Env,
        app_only: Annotated[bool, typer.Option(
            "--app-only", help="the app only, data untouched (the default)")] = False,
        db_only: Annotated[bool, typer.Option(
            "--db-only", help="restore the database only (--backup-id or --latest)")] = False,
        full: Annotated[bool, typer.Option(
            "--full", help="app and database together (default backup: the one taken when "
            "the live version was deployed)")] = False,
        to: Annotated[str | None, typer.Option("--to", help="version to roll back to")] = None,
        backup_id: Annotated[str | None, typer.Option(
            "--backup-id", help="backup to restore (--db-only, --full)")] = None,
        latest: Annotated[bool, typer.Option(
            "--latest", help="app: the version live before (the default); with --db-only or "
            "--full: the newest backup")] = False,
        reason: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
        as_json: Json = False,
    ) -> None:
        """Roll back the app (default), the database (--db-only) or both (--full), with a reason.

        The impact is shown before you confirm; every rollback leaves a JSON record in
        .rollgate/logs/ and in the store.
        """
        app_state.json_errors = as_json
        if sum([app_only, db_only, full]) > 1:
            raise UsageError("--app-only, --db-only and --full exclude each other; give one")
        scope = "db" if db_only else "full" if full else "app"
        if to and latest:
            raise UsageError("--to and --latest exclude each other; give one")
        if (client := app_state.remote()) is not None:
            remote_cmds.rollback(client, service=service_name, environment=env, scope=scope,
                                 to=to, backup_id=backup_id, latest_backup=latest and
                                 scope != "app", reason=reason, yes=yes, as_json=as_json)
            return
        project = app_state.project()
        rt = app_state.runtime()
        plan = service.plan_rollback(rt, project, service=service_name, environment=env,
                                     scope=scope, to=to, backup_id=backup_id,
                                     latest_backup=latest and scope != "app")
        if not yes:
            if not console.is_terminal:
                raise UsageError("rollback needs confirmation: add --yes when not on a terminal")
            console.print(f"[bold]{scope} rollback of {service_name} in {env}[/]")
            for line in plan.impact:
                console.print(f"  • {line}", markup=False, soft_wrap=True)
            typer.confirm("Go ahead?", abort=True)
        elif not as_json:
            for line in plan.impact:
                err_console.print(f"  • {line}", markup=False, soft_wrap=True)
        run_id = service.rollback(rt, project, service=service_name, environment=env,
                                  to=None if scope == "db" else plan.to, reason=reason,
                                  actor=service.default_actor(),
                                  scope=scope, backup_id=plan.backup.id if plan.backup else None)
        run = follow(rt, run_id, quiet=as_json)
        if as_json:
            with rt.db.session() as s:
                print_json(run_dict(run, run_store.list_steps(session=s, run_id=run_id)))
        _exit_for(run.status)

    @app.command()
    def resume(
        run_id: Annotated[str, typer.Argument(metavar="RUN")],
        as_json: Json = False,
    ) -> None:
        """Continue an interrupted run from the step that was interrupted."""
        app_state.json_errors = as_json
        if (client := app_state.remote()) is not None:
            remote_cmds.run_action(client, run_id, "resume", as_json)
            return
        rt = app_state.runtime()
        service.resume(rt, run_id, service.default_actor())
        run = follow(rt, run_id, quiet=as_json)
        if as_json:
            print_json(run_dict(run))
        _exit_for(run.status)

    @app.command()
    def cancel(
        run_id: Annotated[str, typer.Argument(metavar="RUN")],
        as_json: Json = False,
    ) -> None:
        """Stop a run: it discards or rolls back what it started and ends cancelled."""
        app_state.json_errors = as_json
        if (client := app_state.remote()) is not None:
            remote_cmds.run_action(client, run_id, "cancel", as_json)
            return
        rt = app_state.runtime()
        service.cancel(rt, run_id, service.default_actor())
        run = follow(rt, run_id, quiet=True)
        if as_json:
            print_json(run_dict(run))
        else:
            console.print(summary_line(run))

    @app.command()
    def plan(
        service_name: Annotated[str, typer.Argument(metavar="SERVICE")],
        env: Env,
        version: Annotated[str, typer.Option("--version", "-v", help="version to deploy")
                           ] = "NEW",
        traffic: Annotated[float, typer.Option(help="expected requests/s on the service")
                           ] = 100.0,
        baseline_errors: Annotated[float, typer.Option(
            help="share of requests stable answers 5xx")] = 0.001,
        as_json: Json = False,
    ) -> None:
        """Show the gates a deploy would meet now, the steps it would take, and how fast each
        analysis catches a bad version; exit 0 when it would start."""
        proceeds = show_plan(service_name, env, version, as_json=as_json, traffic=traffic,
                             baseline_errors=baseline_errors)
        raise typer.Exit(0 if proceeds else 1)

    @app.command()
    def approve(
        run_id: Annotated[str, typer.Argument(metavar="RUN")],
        comment: Annotated[str | None, typer.Option(help="recorded with the approval")] = None,
    ) -> None:
        """Approve a run waiting at an approval step (`pause: approval`, or the approvals
        its environment requires: not your own deploy there)."""
        _decide(run_id, comment, reject=False)

    @app.command()
    def reject(
        run_id: Annotated[str, typer.Argument(metavar="RUN")],
        comment: Annotated[str, typer.Option(help="why (required, recorded)")],
    ) -> None:
        """Reject a run waiting at an approval step: it fails before touching anything."""
        _decide(run_id, comment, reject=True)

    def _decide(run_id: str, comment: str | None, *, reject: bool) -> None:
        action = "reject" if reject else "approve"
        if (client := app_state.remote()) is not None:
            remote_cmds.run_action(client, run_id, action, False, {"comment": comment})
            return
        rt = app_state.runtime()
        run = service.approve(rt, run_id, service.default_actor(), comment, reject=reject)
        console.print(f"{action[:-1]}ed {run.id} ({run.service} {run.version} → "
                      f"{run.environment})")

    @app.command()
    def history(
        service_name: Annotated[str | None, typer.Option("--service", "-s")] = None,
        env: Annotated[str | None, typer.Option("--env", "-e")] = None,
        status: Annotated[str | None, typer.Option(help="only runs in this state")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
        as_json: Json = False,
    ) -> None:
        """List runs, newest first."""
        if (client := app_state.remote()) is not None:
            remote_cmds.history(client, service=service_name, environment=env, status=status,
                                limit=limit, as_json=as_json)
            return
        rt = app_state.runtime()
        with rt.db.session() as s:
            rows = run_store.list_runs(session=s, service=service_name, environment=env,
                                       status=status, limit=limit)
        if as_json:
            print_json([run_dict(r) for r in rows])
            return
        console.print(runs_table(rows))

    runs_app = typer.Typer(help="Inspect runs.", no_args_is_help=True)
    app.add_typer(runs_app, name="runs")

    @runs_app.command("show")
    def show(run_id: Annotated[str, typer.Argument(metavar="RUN")], as_json: Json = False) -> None:
        """Show a run with its steps, timings, attempts, output and errors."""
        app_state.json_errors = as_json
        if (client := app_state.remote()) is not None:
            remote_cmds.show(client, run_id, as_json)
            return
        rt = app_state.runtime()
        with rt.db.session() as s:
            run = run_store.get_run(session=s, run_id=run_id)
            steps = run_store.list_steps(session=s, run_id=run_id)
            checks = check_store.for_run(session=s, run_id=run_id)
        if as_json:
            print_json(run_dict(run, steps, checks))
            return
        console.print(f"[bold]{run.id}[/] {run.kind} {run.service} "
                      f"{run.from_version or '-'} → {run.version} in {run.environment} "
                      f"({run.strategy}) by {run.actor}")
        if run.reason:
            console.print(f"reason: {run.reason}")
        console.print(steps_table(steps))
        if checks:
            console.print(checks_table(checks))
        console.print(summary_line(run) if run.status in run_store.TERMINAL
                      else f"status: {run.status}")
