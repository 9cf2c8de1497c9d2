"""Who is calling: the principal dependency, the CSRF check and the session cookie.

Credentials are an API token (``Authorization: Bearer rg_…``) or the ``rollgate_session``
cookie of a browser session; a token wins when both are sent. A cookie-authenticated
POST, PUT, PATCH or DELETE also needs the session's CSRF token, in the ``X-CSRF-Token``
header or a ``csrf_token`` field of an urlencoded form; token requests do not.

Open mode: while the store has no user, every request is the local admin (``LOCAL``), as
before accounts existed. Users are never deleted, so once one exists the server stays
closed; that answer is cached per app.
"""

from __future__ import annotations

import hmac
from typing import Annotated, cast
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from rollgate.auth import service as accounts
from rollgate.auth.principal import LOCAL, Principal
from rollgate.engine.runtime import Runtime
from rollgate.errors import CsrfError, Unauthenticated

SESSION_COOKIE = "rollgate_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024

bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="token",
    description="an API token `rg_<id>_<secret>` (POST /api/auth/token, `rollgate login`, "
                "`rollgate tokens create`)")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="session",
    description="a browser session (POST /api/auth/session); state-changing requests also "
                f"need the `{CSRF_HEADER}` header")


def _runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


def client_address(request: Request) -> str:
    """The caller's address, as the login rate limit counts it."""
    return request.client.host if request.client else "unknown"


def is_open(request: Request) -> bool:
    """True while the store has no user (open mode); cached once it has one."""
    state = request.app.state
    if getattr(state, "auth_closed", False):
        return False
    if accounts.is_open(_runtime(request).db):
        return True
    state.auth_closed = True
    return False


def resolve_principal(request: Request, token: str | None,
                      session_id: str | None) -> Principal | None:
    """The principal of these credentials (None: none given); Unauthenticated when bad."""
    if is_open(request):
        return LOCAL
    db = _runtime(request).db
    if token is not None:
        return accounts.token_principal(db, token)
    if session_id:
        return accounts.session_principal(db, session_id)
    return None


async def form_field(request: Request, name: str) -> str | None:
    """A field of an urlencoded form body (the body stays readable for the route)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != FORM_TYPE:
        return None
    body = await request.body()  # cached on the request: the route reads it again
    if len(body) > MAX_FORM_BYTES:
        return None
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if key == name:
            return value
    return None


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse a cookie-authenticated state-changing request without the session's token."""
    if principal.via != "session" or request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER) or await form_field(request, CSRF_FIELD) or ""
    expected = principal.csrf_token or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError(f"a change made with a session cookie needs the session's CSRF token "
                        f"in the {CSRF_HEADER} header or a {CSRF_FIELD} form field (login "
                        "returns it, GET /api/auth/me shows it); or use an API token")


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    session_id: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal | None:
    """The caller, or None without credentials; CSRF is checked for session changes."""
    if hasattr(request.state, "principal"):
        return cast(Principal | None, request.state.principal)
    token = credentials.credentials if credentials else None
    principal = await run_in_threadpool(resolve_principal, request, token, session_id)
    if principal is not None:
        await check_csrf(request, principal)
    request.state.principal = principal
    return principal


async def get_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; Unauthenticated (401) saying how to sign in when there are no credentials."""
    if principal is None:
        raise Unauthenticated("sign in first: " + accounts.HOW_TO_SIGN_IN)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


# -- the session cookie ------------------------------------------------------------------


def set_session_cookie(request: Request, response: Response,
                       new: accounts.NewSession) -> None:
    """Give the browser its session: HttpOnly, SameSite=Strict, Secure over TLS."""
    response.set_cookie(SESSION_COOKIE, new.session_id,
                        max_age=int(accounts.SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def clear_session_cookie(request: Request, response: Response) -> None:
    """Tell the browser to forget its session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


async def login_session(request: Request, response: Response, *, username: str,
                        password: str) -> accounts.NewSession:
    """Check the password (rate-limited, audited), open a session and set its cookie.

    A login posted from another site is refused (``Sec-Fetch-Site: cross-site``), so a page
    elsewhere cannot sign the browser in to someone else's account.
    """
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfError("a login posted from another site is refused; log in from this "
                        "server's own login page")
    new = await run_in_threadpool(accounts.start_session, _runtime(request).db,
                                  username=username, password=password,
                                  client=client_address(request))
    set_session_cookie(request, response, new)
    request.state.principal = new.principal
    return new


async def logout_session(request: Request, response: Response) -> bool:
    """End the request's browser session (if any) and clear its cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    clear_session_cookie(request, response)
    principal = getattr(request.state, "principal", None)
    if not session_id or not isinstance(principal, Principal) or principal.via != "session":
        return False
    return await run_in_threadpool(accounts.end_session, _runtime(request).db, session_id,
                                   principal.name)
