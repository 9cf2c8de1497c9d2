"""Signing in (browser sessions, API tokens), who am I, tokens, users and their grants.

Token and user management needs admin on every environment (``*``), except that anyone
signed in may list, create and revoke their own tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rollgate.api import auth
from rollgate.api.auth import PrincipalDep
from rollgate.api.common import Limit, Offset, Page, ProjectDep, RuntimeDep, errors, page
from rollgate.auth import service as accounts
from rollgate.auth.principal import ANY_ENV, ROLES, Principal
from rollgate.engine.runtime import Runtime
from rollgate.errors import UsageError

router = APIRouter(prefix="/api")

Role = Literal["viewer", "deployer", "approver", "admin"]
assert get_args(Role) == ROLES


class LoginIn(BaseModel):
    """A user name and password (JSON or an urlencoded form)."""

    model_config = ConfigDict(extra="ignore")  # forms carry other fields (csrf_token, next)

    username: str = Field(min_length=1, max_length=64, examples=["ana"])
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    """A browser session was opened; the cookie carries it, the CSRF token goes in headers."""

    name: str
    csrf_token: str = Field(description="send it as X-CSRF-Token (or a csrf_token form "
                                        "field) with every POST, PUT, PATCH and DELETE")
    expires_at: datetime


class GrantOut(BaseModel):
    """A role in one environment, or in every environment (*)."""

    role: Role
    environment: str = Field(description="an environment of the spec, or * for every one")


class MeOut(BaseModel):
    """The caller, how they signed in, and what they may do where."""

    name: str
    via: Literal["token", "session", "local"] = Field(
        description="local: open mode (no users yet), everyone is admin")
    token_id: str | None = None
    grants: list[GrantOut]
    csrf_token: str | None = Field(None, description="the session's CSRF token (sessions)")
    open_mode: bool = Field(description="true while the server has no users")


class TokenLoginIn(LoginIn):
    """A user name and password, and the token to create for that user."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("api", min_length=1, max_length=128, description="what the token is for",
                      examples=["cli@laptop"])
    expires_in_days: int = Field(accounts.DEFAULT_TOKEN_DAYS, ge=1,
                                 le=accounts.MAX_TOKEN_DAYS)


class TokenIn(BaseModel):
    """A token to create: for yourself, or (admin) for another user."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, examples=["ci-deploys"])
    user: str | None = Field(None, max_length=64,
                             description="whose token (default: yours; others need admin)")
    expires_in_days: int = Field(accounts.DEFAULT_TOKEN_DAYS, ge=1,
                                 le=accounts.MAX_TOKEN_DAYS)


class NewTokenOut(BaseModel):
    """A new token: `token` is shown this once, and only its hash is kept."""

    id: str = Field(description="the token's public id (lists, revocation, audit)")
    token: str = Field(description="the secret to send as `Authorization: Bearer …`")
    name: str
    user: str
    expires_at: datetime | None


class TokenOut(BaseModel):
    """A token (never its secret)."""

    id: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="to the minute")
    state: Literal["active", "expired", "revoked"]


class UserOut(BaseModel):
    """A user and their grants (never the password)."""

    name: str
    created_at: datetime
    disabled_at: datetime | None
    grants: list[GrantOut]


class GrantIn(BaseModel):
    """A role in an environment of the spec, or * for every one."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    environment: str = Field(ANY_ENV, min_length=1, max_length=64, examples=["production"])


class UserIn(GrantIn):
    """A new user, their password and their first grant."""

    name: str = Field(min_length=1, max_length=64, examples=["ana"])
    password: str = Field(min_length=1, max_length=1024)


def _me(principal: Principal, open_mode: bool) -> dict[str, Any]:
    return {"name": principal.name, "via": principal.via, "token_id": principal.token_id,
            "grants": [{"role": g.role, "environment": g.environment}
                       for g in principal.grants],
            "csrf_token": principal.csrf_token, "open_mode": open_mode}


async def _login_body(request: Request) -> LoginIn:
    """The login fields from a JSON body or an urlencoded form; 422 when they do not fit."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = (await request.body()).decode("utf-8")
        if ctype == auth.FORM_TYPE:
            data: Any = dict(parse_qsl(text))
        else:
            data = json.loads(text or "null")
        return LoginIn.model_validate(data)
    except UnicodeDecodeError:
        raise RequestValidationError([{"loc": ("body",), "msg": "the body is not UTF-8"}]
                                     ) from None
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"loc": ("body",), "msg": f"invalid JSON: {exc.msg}"}]
                                     ) from None
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
                                     ) from None


_LOGIN_BODY = {"required": True, "content": {
    "application/json": {"schema": LoginIn.model_json_schema()},
    auth.FORM_TYPE: {"schema": LoginIn.model_json_schema()},
}}


@router.post("/auth/session", response_model=SessionOut, tags=["auth"],
             summary="Log in (browser session)", responses=errors(401, 403, 422, 429),
             openapi_extra={"requestBody": _LOGIN_BODY},
             description="Check a user name and password (JSON or form) and set the "
                         f"`{auth.SESSION_COOKIE}` cookie (HttpOnly, SameSite=Strict, Secure "
                         "over TLS). Returns the CSRF token that state-changing requests made "
                         "with the cookie must send as `X-CSRF-Token`. After 5 failed logins "
                         "for a user from one address within 5 minutes: 429 with Retry-After. "
                         "A login posted from another site (Sec-Fetch-Site) gets 403.")
async def login(request: Request, response: Response) -> dict[str, Any]:
    """Open a browser session."""
    body = await _login_body(request)
    new = await auth.login_session(request, response, username=body.username,
                                   password=body.password)
    return {"name": new.principal.name, "csrf_token": new.csrf_token,
            "expires_at": new.expires_at}


@router.delete("/auth/session", status_code=204, tags=["auth"], summary="Log out",
               responses=errors(400, 401, 403),
               description="End the browser session of the cookie and clear the cookie (needs "
                            "the CSRF token, like every change made with the cookie).")
async def logout(request: Request, principal: PrincipalDep) -> Response:
    """End the browser session."""
    if principal.via != "session":
        raise UsageError("this request carries no browser session to end; a token is "
                         "revoked with DELETE /api/tokens/{id}")
    response = Response(status_code=204)
    await auth.logout_session(request, response)
    return response


@router.get("/auth/me", response_model=MeOut, tags=["auth"], summary="Who am I",
            responses=errors(401),
            description="The caller's name, how they signed in, their grants, and for a "
                        "session its CSRF token. In open mode (no users): `local`, admin "
                        "everywhere.")
def me(principal: PrincipalDep) -> dict[str, Any]:
    """The caller."""
    return _me(principal, open_mode=principal.via == "local")


@router.post("/auth/token", status_code=201, response_model=NewTokenOut, tags=["auth"],
             summary="Get an API token with a password", responses=errors(401, 422, 429),
             description="Check a user name and password and create an API token for that "
                         "user (what `rollgate login` does). The token is in this response "
                         "only; the server keeps its hash. Same rate limit as the session "
                         "login.")
def token_login(body: TokenLoginIn, request: Request, rt: RuntimeDep) -> dict[str, Any]:
    """Create a token for the user whose password this is."""
    accounts.authenticate(rt.db, username=body.username, password=body.password,
                          client=auth.client_address(request), purpose="token")
    new = accounts.create_token(rt.db, user=body.username, name=body.name,
                                expires_in_days=body.expires_in_days, actor=body.username,
                                via="password")
    return _new_token(new)


def _new_token(new: accounts.NewToken) -> dict[str, Any]:
    return {"id": new.id, "token": new.token, "name": new.name, "user": new.user,
            "expires_at": new.expires_at}


def _for_user(principal: Principal, user: str | None) -> str:
    """Whose tokens: the caller's own, or (admin only) another user's."""
    if user is None or user == principal.name:
        return principal.name
    principal.check("admin", ANY_ENV)
    return user


@router.get("/tokens", response_model=Page[TokenOut], tags=["auth"], summary="List API tokens",
            responses=errors(401, 403, 404, 422),
            description="Tokens, newest first, never their secrets: your own, or with admin "
                        "on * every user's (`all=true`) or one user's (`user=`). Paginated.")
def list_tokens(
    rt: RuntimeDep, principal: PrincipalDep,
    user: Annotated[str | None, Query(max_length=64, description="only this user's")] = None,
    all_users: Annotated[bool, Query(alias="all", description="every user's (admin)")] = False,
    limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """List tokens."""
    if all_users:
        principal.check("admin", ANY_ENV)
    owner = None if all_users and user is None else _for_user(principal, user)
    if principal.via == "local" and owner == principal.name:
        owner = None  # open mode: "local" is no user; show them all
    rows = accounts.list_tokens(rt.db, owner)[offset:offset + limit + 1]
    return page([t.as_dict() for t in rows], limit=limit, offset=offset)


@router.post("/tokens", status_code=201, response_model=NewTokenOut, tags=["auth"],
             summary="Create an API token", responses=errors(400, 401, 403, 404, 409, 422),
             description="Create a token for yourself, or with admin on * for another user. "
                         "The token is in this response only; the server keeps its hash.")
def create_token(body: TokenIn, rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Create a token."""
    if principal.via == "local" and body.user is None:
        raise UsageError("open mode has no users to own a token: add one with `rollgate "
                         "users add NAME --role admin`, then name it in `user`")
    owner = _for_user(principal, body.user)
    new = accounts.create_token(rt.db, user=owner, name=body.name,
                                expires_in_days=body.expires_in_days, actor=principal.name,
                                via=principal.audit_via)
    return _new_token(new)


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["auth"],
               summary="Revoke an API token", responses=errors(401, 403, 404),
               description="Revoke a token: it is refused from the very next request. Your own "
                            "tokens, or with admin on * anyone's. Revoking twice is a no-op.")
def revoke_token(token_id: str, rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Revoke a token."""
    _for_user(principal, accounts.get_token(rt.db, token_id).user)
    return accounts.revoke_token(rt.db, token_id=token_id, actor=principal.name,
                                 via=principal.audit_via).as_dict()


@router.get("/users", response_model=Page[UserOut], tags=["users"], summary="List users",
            responses=errors(401, 403, 422),
            description="Every user with their grants, by name; paginated. Needs admin on *.")
def list_users(rt: RuntimeDep, principal: PrincipalDep, limit: Limit = 50,
               offset: Offset = 0) -> dict[str, Any]:
    """List users."""
    principal.check("admin", ANY_ENV)
    rows = accounts.list_users(rt.db)[offset:offset + limit + 1]
    return page([u.as_dict() for u in rows], limit=limit, offset=offset)


@router.post("/users", status_code=201, response_model=UserOut, tags=["users"],
             summary="Add a user", responses=errors(400, 401, 403, 422),
             description="Create a user with a password (at least 8 characters) and a first "
                         "grant. Needs admin on *. The first user is added with `rollgate "
                         "users add`; from then on the server needs credentials.")
def add_user(body: UserIn, rt: RuntimeDep, project: ProjectDep,
             principal: PrincipalDep) -> dict[str, Any]:
    """Add a user."""
    principal.check("admin", ANY_ENV)
    return accounts.add_user(rt.db, name=body.name, password=body.password, role=body.role,
                             environment=body.environment, actor=principal.name,
                             via=principal.audit_via,
                             known_envs=list(project.spec.environments)).as_dict()


@router.post("/users/{name}/grants", response_model=UserOut, tags=["users"],
             summary="Grant a role", responses=errors(400, 401, 403, 404, 422),
             description="Give a user a role in an environment (* for every one); a no-op "
                         "when they have it. Takes effect on their next request. Needs admin "
                         "on *.")
def add_grant(name: str, body: GrantIn, rt: RuntimeDep, project: ProjectDep,
              principal: PrincipalDep) -> dict[str, Any]:
    """Grant a role."""
    principal.check("admin", ANY_ENV)
    return accounts.grant(rt.db, name=name, role=body.role, environment=body.environment,
                          actor=principal.name, via=principal.audit_via,
                          known_envs=list(project.spec.environments)).as_dict()


@router.delete("/users/{name}/grants", response_model=UserOut, tags=["users"],
               summary="Revoke a role", responses=errors(400, 401, 403, 404, 409, 422),
               description="Take a grant away, exactly as it was given (role and environment). "
                            "Takes effect on the user's next request. Refused (409) when it "
                            "would leave no active admin on *. Needs admin on *.")
def remove_grant(
    name: str, rt: RuntimeDep, principal: PrincipalDep,
    role: Annotated[Role, Query(description="the role to take away")],
    environment: Annotated[str, Query(min_length=1, max_length=64,
                                      description="its environment, or *")],
) -> dict[str, Any]:
    """Revoke a role."""
    principal.check("admin", ANY_ENV)
    return accounts.revoke(rt.db, name=name, role=role, environment=environment,
                           actor=principal.name, via=principal.audit_via).as_dict()


@router.post("/users/{name}/disable", response_model=UserOut, tags=["users"],
             summary="Disable a user", responses=errors(401, 403, 404, 409),
             description="Disable a user: their sessions end and their tokens are refused from "
                         "the next request. Users are kept (the audit log names them). Refused "
                         "(409) when it would leave no active admin on *. Needs admin on *.")
def disable_user(name: str, rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Disable a user."""
    return _switch_user(accounts.disable, name, rt, principal)


@router.post("/users/{name}/enable", response_model=UserOut, tags=["users"],
             summary="Enable a disabled user", responses=errors(401, 403, 404),
             description="Enable a disabled user again: they can log in, and their tokens "
                         "that are neither revoked nor expired are accepted again. Needs "
                         "admin on *.")
def enable_user(name: str, rt: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Enable a user again."""
    return _switch_user(accounts.enable, name, rt, principal)


def _switch_user(change: Callable[..., accounts.UserInfo], name: str, rt: Runtime,
                 principal: Principal) -> dict[str, Any]:
    """Disable or enable a user, as an admin on every environment."""
    principal.check("admin", ANY_ENV)
    return change(rt.db, name=name, actor=principal.name, via=principal.audit_via).as_dict()
