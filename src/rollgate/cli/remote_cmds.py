"""The run commands over a server's REST API (``--server URL``), and login/logout/whoami."""

from __future__ import annotations

import getpass
import socket
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from rollgate.cli.common import app_state
from rollgate.cli.remote import RemoteClient, as_row, forget_token, save_token
from rollgate.cli.render import (
    console,
    err_console,
    plain_step,
    print_json,
    runs_table,
    steps_table,
    summary_line,
)
from rollgate.errors import UsageError


def _run_out(client: RemoteClient, run: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Follow a run to its end, printing its steps; exit 1 unless it succeeded."""
    final = client.follow(run["id"], on_step=None if quiet else lambda s: plain_step(as_row(s)))
    if quiet:
        print_json(final)
    else:
        console.print(summary_line(as_row(final)))
    if final["status"] != "succeeded":
        raise typer.Exit(1)
    return final


def deploy(client: RemoteClient, *, service: str, environment: str, version: str,
           allow_destructive: bool, as_json: bool, emergency: str | None = None,
           wait: bool = False, major: bool = False, commit: str | None = None,
           committed_at: str | None = None) -> None:
    """Start a deploy on the server and follow it."""
    run = client.request("POST", "/api/deploys", json={
        "service": service, "environment": environment, "version": version,
        "allow_destructive": allow_destructive, "wait_for_window": wait,
        "emergency": emergency is not None, "reason": emergency, "major": major,
        "commit": commit, "committed_at": committed_at})
    _run_out(client, run, as_json)


def promote(client: RemoteClient, *, service: str, source: str, dest: str,
            version: str | None, emergency: str | None, wait: bool, as_json: bool,
            major: bool = False) -> None:
    """Start a promotion on the server and follow it."""
    run = client.request("POST", "/api/promotions", json={
        "service": service, "from": source, "to": dest, "version": version,
        "wait_for_window": wait, "emergency": emergency is not None, "reason": emergency,
        "major": major})
    if not as_json:
        console.print(run.get("release_notes") or "", markup=False)
    _run_out(client, run, as_json)


def rollback(client: RemoteClient, *, service: str, environment: str, scope: str,
             to: str | None, backup_id: str | None, latest_backup: bool, reason: str | None,
             yes: bool, as_json: bool) -> None:
    """Start a rollback on the server (after a confirmation) and follow it."""
    if not yes:
        if not console.is_terminal:
            raise UsageError("rollback needs confirmation: add --yes when not on a terminal")
        typer.confirm(f"Roll back {service} in {environment} ({scope}) on {client.server}?",
                      abort=True)
    run = client.request("POST", "/api/rollbacks", json={
        "service": service, "environment": environment, "scope": scope, "to": to,
        "backup_id": backup_id, "latest_backup": latest_backup, "reason": reason})
    _run_out(client, run, as_json)


def run_action(client: RemoteClient, run_id: str, action: str, as_json: bool,
               body: dict[str, Any] | None = None) -> None:
    """cancel, resume, approve or reject a run on the server."""
    run = client.request("POST", f"/api/runs/{run_id}/{action}", json=body or {})
    if action in ("approve", "reject"):
        if as_json:
            print_json(run)
        else:
            console.print(f"{action[:-1]}ed {run['id']} ({run['service']} {run['version']} → "
                          f"{run['environment']})")
        return
    _run_out(client, run, as_json)


def history(client: RemoteClient, *, service: str | None, environment: str | None,
            status: str | None, limit: int, as_json: bool) -> None:
    """List runs from the server."""
    params = {k: v for k, v in {"service": service, "environment": environment,
                                "status": status, "limit": limit}.items() if v is not None}
    rows = client.request("GET", "/api/runs", params=params)["items"]
    if as_json:
        print_json(rows)
        return
    console.print(runs_table([as_row(raw) for raw in rows]))


def show(client: RemoteClient, run_id: str, as_json: bool) -> None:
    """Show a run from the server."""
    run = client.request("GET", f"/api/runs/{run_id}")
    if as_json:
        print_json(run)
        return
    console.print(summary_line(as_row(run)))
    console.print(steps_table([as_row(s) for s in run.get("steps", [])]))


def status(client: RemoteClient, env: str | None, as_json: bool) -> None:
    """Live versions and traffic from the server."""
    rows = [r for r in client.request("GET", "/api/status")
            if env is None or r["environment"] == env]
    if as_json:
        print_json(rows)
        return
    table = Table(box=None, header_style="bold")
    for col in ("service", "env", "live", "traffic", "url", "active run"):
        table.add_column(col, overflow="fold")
    for r in rows:
        traffic = ", ".join(f"{v} {w}%" for v, w in r["weights"].items()) or "-"
        table.add_row(r["service"], r["environment"], r["live"] or "-", traffic, r["url"],
                      r["active_run"] or "-")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add login, logout and whoami."""

    @app.command()
    def login(
        server: Annotated[str, typer.Option("--server", help="the server's URL",
                                            envvar="ROLLGATE_SERVER")],
        user: Annotated[str | None, typer.Option("--user", "-u", help="user name")] = None,
        password_stdin: Annotated[bool, typer.Option(
            "--password-stdin", help="read the password from standard input")] = False,
        days: Annotated[int, typer.Option("--expires-in-days", min=1, max=365)] = 30,
    ) -> None:
        """Get an API token from a server and keep it for later commands (--server URL)."""
        name = user or getpass.getuser()
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"password for {name} on {server}: ")
        client = RemoteClient(server, token="")
        got = client.request("POST", "/api/auth/token", json={
            "username": name, "password": password,
            "name": f"cli@{socket.gethostname()}", "expires_in_days": days})
        path = save_token(server, user=name, token=got["token"], token_id=str(got["id"]))
        console.print(f"logged in to {server} as {name}; token {got['id']} saved in {path} "
                      f"(expires {got.get('expires_at') or 'never'}). Use it with --server "
                      f"{server} or ROLLGATE_SERVER={server}", markup=False)

    @app.command()
    def logout(server: Annotated[str, typer.Option("--server", envvar="ROLLGATE_SERVER")]
               ) -> None:
        """Revoke the saved token on the server and forget it."""
        saved = forget_token(server)
        if saved is None:
            err_console.print(f"no saved token for {server}")
            raise typer.Exit(1)
        client = RemoteClient(server, token=str(saved["token"]))
        client.request("DELETE", f"/api/tokens/{saved['token_id']}")
        console.print(f"logged out of {server}; token {saved['token_id']} revoked")

    @app.command()
    def whoami(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Who the server knows you as, and your roles per environment."""
        client = app_state.remote()
        if client is None:
            raise UsageError("not talking to a server: give --server URL (or ROLLGATE_SERVER)")
        me = client.request("GET", "/api/auth/me")
        if as_json:
            print_json(me)
            return
        grants = ", ".join(f"{g['role']} on {g['environment']}" for g in me.get("grants") or [])
        console.print(f"{me['name']} on {client.server} via {me.get('via')}: "
                      f"{grants or 'no roles'}", markup=False)
