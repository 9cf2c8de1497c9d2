"""users add | list | grant | revoke | disable | enable; tokens create | list | revoke.

These act on the local store directly: whoever can open the store is its admin. The
audit log names the OS user (or ROLLGATE_ACTOR) as the actor.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from rollgate.auth import service as accounts
from rollgate.auth.principal import ANY_ENV, ROLES
from rollgate.cli.common import app_state
from rollgate.cli.render import console, err_console, print_json, ts
from rollgate.errors import RollgateError, UsageError
from rollgate.runs.service import default_actor

users_app = typer.Typer(help="Users of `rollgate serve` and their roles per environment.",
                        no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (shown once, stored hashed, expiring, revocable).",
                         no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="print JSON")]
RoleArg = Annotated[str, typer.Argument(metavar="ROLE", help=f"one of {', '.join(ROLES)}")]
EnvOpt = Annotated[str, typer.Option("--env", "-e",
                                     help="an environment of the spec, or * for every one")]


def register(app: typer.Typer) -> None:
    """Add the users and tokens command groups to the app."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")


def _known_envs() -> list[str] | None:
    """The spec's environments, or None when the spec cannot be read (no check then)."""
    try:
        return list(app_state.project().spec.environments)
    except RollgateError:
        return None


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin read an empty line; pipe the password in, e.g. "
                             "`printf '%s\\n' \"$PW\" | rollgate users add …`")
        return password
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


def _grants_text(info: accounts.UserInfo) -> str:
    return ", ".join(str(g) for g in info.grants) or "no roles"


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    role: Annotated[str, typer.Option("--role", "-r", help=f"one of {', '.join(ROLES)}")],
    env: Annotated[str, typer.Option("--env", "-e", help="an environment of the spec, or * "
                                                         "for every one")] = ANY_ENV,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="read the password from standard input (one line)")] = False,
) -> None:
    """Add a user with a password (asked twice) and a first role."""
    known = _known_envs()
    accounts.check_name(name)
    accounts.check_grant(role, env, known)
    password = _read_password(password_stdin)
    info = accounts.add_user(app_state.runtime().db, name=name, password=password, role=role,
                             environment=env, actor=default_actor(), known_envs=known)
    console.print(f"added user {info.name}: {_grants_text(info)}", markup=False)


@users_app.command("list")
def users_list(as_json: Json = False) -> None:
    """Users, their roles per environment, and whether they are disabled."""
    app_state.json_errors = as_json
    users = accounts.list_users(app_state.runtime().db)
    if as_json:
        print_json([u.as_dict() for u in users])
        return
    table = Table(box=None, header_style="bold")
    for col in ("name", "roles", "created", "disabled"):
        table.add_column(col, overflow="fold")
    for u in users:
        table.add_row(u.name, _grants_text(u), ts(u.created_at), ts(u.disabled_at))
    console.print(table)


@users_app.command("grant")
def users_grant(name: Annotated[str, typer.Argument(metavar="NAME")], role: RoleArg,
                env: EnvOpt) -> None:
    """Give a user a role in an environment (* for every one)."""
    info = accounts.grant(app_state.runtime().db, name=name, role=role, environment=env,
                          actor=default_actor(), known_envs=_known_envs())
    console.print(f"{info.name}: {_grants_text(info)}", markup=False)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(metavar="NAME")], role: RoleArg,
                 env: EnvOpt) -> None:
    """Take a role away, exactly as it was granted."""
    info = accounts.revoke(app_state.runtime().db, name=name, role=role, environment=env,
                           actor=default_actor())
    console.print(f"{info.name}: {_grants_text(info)}", markup=False)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Disable a user: their sessions end and their tokens are refused from now on."""
    info = accounts.disable(app_state.runtime().db, name=name, actor=default_actor())
    console.print(f"disabled {info.name} (since {ts(info.disabled_at)}); their tokens and "
                  "sessions are refused", markup=False)


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Enable a disabled user again (their unrevoked tokens work again)."""
    info = accounts.enable(app_state.runtime().db, name=name, actor=default_actor())
    console.print(f"enabled {info.name}: {_grants_text(info)}", markup=False)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", "-u", help="whose token")],
    name: Annotated[str, typer.Option("--name", "-n", help="what it is for, e.g. ci-deploys")],
    expires_in_days: Annotated[int, typer.Option(
        "--expires-in-days", min=1, max=accounts.MAX_TOKEN_DAYS)] = accounts.DEFAULT_TOKEN_DAYS,
    as_json: Json = False,
) -> None:
    """Create an API token; it is printed this once (standard output) and stored hashed."""
    app_state.json_errors = as_json
    new = accounts.create_token(app_state.runtime().db, user=user, name=name,
                                expires_in_days=expires_in_days, actor=default_actor())
    if as_json:
        print_json({"id": new.id, "token": new.token, "user": new.user, "name": new.name,
                    "expires_at": new.expires_at})
        return
    err_console.print(f"token {new.id} for {new.user} ({new.name}), expires "
                      f"{ts(new.expires_at)}. It is shown this once: store it now. Use it as "
                      "`Authorization: Bearer …`; revoke it with `rollgate tokens revoke "
                      f"{new.id}`", markup=False)
    sys.stdout.write(new.token + "\n")


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option("--user", "-u", help="only this user's")] = None,
    as_json: Json = False,
) -> None:
    """API tokens, newest first (never their secrets)."""
    app_state.json_errors = as_json
    tokens = accounts.list_tokens(app_state.runtime().db, user)
    if as_json:
        print_json([t.as_dict() for t in tokens])
        return
    table = Table(box=None, header_style="bold")
    for col in ("id", "user", "name", "state", "created", "expires", "last used"):
        table.add_column(col, overflow="fold")
    for t in tokens:
        table.add_row(t.id, t.user, t.name, t.state, ts(t.created_at), ts(t.expires_at),
                      ts(t.last_used_at))
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token: servers refuse it from the very next request."""
    info = accounts.revoke_token(app_state.runtime().db, token_id=token_id,
                                 actor=default_actor())
    console.print(f"token {info.id} ({info.user}, {info.name}) revoked", markup=False)
