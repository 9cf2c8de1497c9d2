"""Logging in and out of the dashboard: browser sessions from ``rollgate.api.auth``.

The login form carries a double-submit CSRF token (no session exists yet), so another
site cannot log a browser in as someone else. A successful login sets the HttpOnly
``rollgate_session`` cookie and goes back to the page that asked for it.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from rollgate.api.auth import (
    SESSION_COOKIE,
    is_open,
    login_session,
    logout_session,
    resolve_principal,
)
from rollgate.auth.principal import Principal
from rollgate.errors import CsrfError, RateLimited, Unauthenticated
from rollgate.web.access import (
    check_double_submit,
    double_submit_token,
    set_csrf_cookie,
)
from rollgate.web.forms import FormDep
from rollgate.web.render import page
from rollgate.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NextQuery = Annotated[str | None, Query(alias="next", max_length=2000)]


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def current_session(request: Request) -> Principal | None:
    """The principal of the request's session cookie, if it is still valid."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    try:
        principal = await run_in_threadpool(resolve_principal, request, None, session_id)
    except Unauthenticated:
        return None
    return principal if principal is not None and principal.via == "session" else None


def login_page(request: Request, next_url: str, *, error: str | None = None,
               username: str = "", status: int = 200) -> Response:
    """The login form, with a fresh or existing double-submit token."""
    token, fresh = double_submit_token(request)
    response = page(request, "login.html", {"next": next_url, "error": error,
                                            "username": username, "csrf_token": token},
                    status=status)
    if fresh:
        set_csrf_cookie(request, response, token)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next_url: NextQuery = None) -> Response:
    """The login form (straight on when open mode or already logged in)."""
    target = safe_next(next_url)
    open_mode = await run_in_threadpool(is_open, request)
    if open_mode or await current_session(request) is not None:
        return RedirectResponse(target, status_code=303)
    return login_page(request, target)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, form: FormDep) -> Response:
    """Check the password (rate-limited, audited), open a session, go back."""
    target = safe_next(form.text("next"))
    username = (form.text("username") or "")[:64]
    if await run_in_threadpool(is_open, request):
        return RedirectResponse(target, status_code=303)
    check_double_submit(request, form)
    response = RedirectResponse(target, status_code=303)
    try:
        await login_session(request, response, username=username,
                            password=form.get("password", ""))
    except RateLimited as exc:
        refused = login_page(request, target, error=exc.message, username=username,
                             status=429)
        refused.headers.update(exc.http_headers())
        return refused
    except Unauthenticated as exc:
        return login_page(request, target, error=exc.message, username=username, status=401)
    return response


@router.post("/logout")
async def logout(request: Request, form: FormDep) -> Response:
    """End the browser session (CSRF-checked) and go to the login form."""
    principal = await current_session(request)
    if principal is not None:
        sent, expected = form.get("csrf_token", ""), principal.csrf_token or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfError("the form's CSRF token is missing or stale: reload the page and "
                            "try again")
        request.state.principal = principal
    response = RedirectResponse("/login", status_code=303)
    await logout_session(request, response)
    return response
