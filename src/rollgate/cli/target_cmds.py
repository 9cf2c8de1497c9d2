"""status, down, serve."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from rollgate.cli import remote_cmds
from rollgate.cli.common import app_state
from rollgate.cli.render import console, print_json, ts
from rollgate.runs import service
from rollgate.runs.status import target_status


def register(app: typer.Typer) -> None:
    """Add the target commands to the app."""

    @app.command()
    def status(
        env: Annotated[str | None, typer.Option("--env", "-e")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Running versions, traffic weights and health of every service."""
        if (client := app_state.remote()) is not None:
            remote_cmds.status(client, env, as_json)
            return
        project = app_state.project()
        rt = app_state.runtime()
        rows: list[dict[str, Any]] = []
        for env_name in project.spec.environments:
            if env and env_name != env:
                continue
            for svc in project.spec.services:
                rows.append(target_status(rt, project, svc, env_name))
        if as_json:
            print_json(rows)
            return
        table = Table(box=None, header_style="bold")
        for col in ("service", "env", "live", "traffic", "instances", "url", "active run"):
            table.add_column(col, overflow="fold")
        for r in rows:
            traffic = ", ".join(f"{v} {w}%" for v, w in r["weights"].items()) or "-"
            if r.get("maintenance"):
                traffic = f"maintenance (503): {r['maintenance']['message']}"
            insts = ", ".join(
                f"{i['version']}#{i['replica']} "
                + ("[green]healthy[/]" if i["healthy"] else "[red]unhealthy[/]"
                   if i["alive"] else "[red]dead[/]")
                + (f" (warm until {ts(i['retire_at'])})" if i["retire_at"] else "")
                for i in r["instances"]) or "-"
            table.add_row(r["service"], r["environment"], r["live"] or "-", traffic, insts,
                          r["url"] if r["proxy"] else "-", r["active_run"] or "-")
        console.print(table)

    @app.command()
    def down(
        service_name: Annotated[str | None, typer.Argument(metavar="[SERVICE]")] = None,
        env: Annotated[str, typer.Option("--env", "-e")] = ...,  # type: ignore[assignment]
    ) -> None:
        """Stop every instance and the proxy of a service (or all services) in an environment."""
        project = app_state.project()
        rt = app_state.runtime()
        names = [service_name] if service_name else list(project.spec.services)
        for name in names:
            stopped = service.down(rt, project, service=name, environment=env,
                                   actor=service.default_actor())
            console.print(f"{name}/{env}: stopped {stopped} instance(s) and the proxy")

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port")] = 8700,
    ) -> None:
        """Run the API, the run stream and the background worker."""
        from rollgate.api.server import serve as run_server

        run_server(app_state.settings(), app_state.project, host=host, port=port)
