"""init, validate, schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rollgate.cli.common import app_state
from rollgate.cli.render import console, err_console, print_json
from rollgate.errors import RefusedError
from rollgate.redact import literal_secrets, url_secrets
from rollgate.spec.schema import json_schema
from rollgate.spec.starter import starter_spec


def register(app: typer.Typer) -> None:
    """Add the spec commands to the app."""

    @app.command()
    def init(
        project: Annotated[str, typer.Option(help="project name")] = "shop",
        force: Annotated[bool, typer.Option(help="overwrite an existing spec")] = False,
    ) -> None:
        """Write a commented starter rollgate.yaml that validates."""
        path = app_state.settings().spec
        if path.exists() and not force:
            raise RefusedError(f"{path} already exists; use --force to overwrite it")
        path.write_text(starter_spec(project))
        console.print(f"wrote {path}; try `rollgate validate` then "
                      f"`rollgate deploy web --env staging --version v1`")

    @app.command()
    def validate(
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Check the spec; errors name file, line and field (exit 2)."""
        app_state.json_errors = as_json
        project = app_state.project()
        spec = project.spec
        literal = literal_secrets({f"services.{n}.env": s.env for n, s in spec.services.items()})
        urls = {f"databases.{n}.url": d.url for n, d in spec.databases.items()}
        urls.update({f"environments.{e}.databases.{n}": url
                     for e, env in spec.environments.items() for n, url in env.databases.items()})
        literal += [path for path, url in urls.items()
                    if url and "${" not in url and url_secrets(url)]
        if as_json:
            print_json({"valid": True, "project": spec.project, "warnings": [
                f"{path} looks like a secret written in the spec" for path in literal],
                        "services": list(spec.services), "environments": list(spec.environments)})
            return
        for path in literal:
            name = path.rsplit(".", 1)[1].upper()
            name = "DATABASE_URL" if name == "URL" or path.startswith("environments.") else name
            err_console.print(f"warning: {path} looks like a secret written in the spec; write "
                              f"${{{name}}} and set {name} in rollgate's environment instead",
                              style="yellow", soft_wrap=True)
        console.print(f"{app_state.settings().spec}: valid — project {spec.project}, "
                      f"{len(spec.services)} service(s), {len(spec.environments)} "
                      f"environment(s), {len(spec.checks)} check(s), "
                      f"{len(spec.databases)} database(s)")

    @app.command()
    def schema() -> None:
        """Print the JSON Schema of rollgate.yaml."""
        typer.echo(json.dumps(json_schema(), indent=2))
