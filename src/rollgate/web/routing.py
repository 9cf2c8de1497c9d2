"""The dashboard's route class: HTML error pages, login redirects and visitor cookies."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from rollgate.api.auth import SESSION_COOKIE
from rollgate.errors import LockedError, RollgateError, Unauthenticated
from rollgate.web.access import LoginRequired, finish_response
from rollgate.web.render import page

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

HEADINGS = {400: "Bad request", 401: "Log in needed", 403: "Not allowed", 404: "Not found",
            409: "Refused", 413: "Too large", 415: "Wrong form encoding",
            422: "Invalid request"}


def login_url(request: Request) -> str:
    """The login form, coming back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(here, safe='')}"


def error_page(request: Request, status: int, message: str, run_id: str | None = None
               ) -> HTMLResponse:
    """An HTML page saying what went wrong."""
    heading = HEADINGS.get(status, "Something went wrong")
    return page(request, "error.html", {"status": status, "heading": heading,
                                        "message": message, "run_id": run_id}, status=status)


def _to_login(request: Request, message: str) -> Response:
    """GET: to the login form (forgetting a stale session); otherwise a 401 page."""
    response: Response
    if request.method == "GET":
        response = RedirectResponse(login_url(request), status_code=303)
    else:
        response = error_page(request, 401, f"{message}; log in again")
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
    return response


async def _handle(request: Request, original: Handler) -> Response:
    try:
        return await original(request)
    except LoginRequired:
        return _to_login(request, "log in first")
    except Unauthenticated as exc:
        return _to_login(request, exc.message)
    except LockedError as exc:
        return error_page(request, exc.http_status, exc.message, exc.run_id)
    except RollgateError as exc:
        return error_page(request, exc.http_status, exc.message)
    except HTTPException as exc:
        return error_page(request, exc.status_code, str(exc.detail))
    except RequestValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: "
                             f"{e.get('msg', 'invalid')}" for e in exc.errors())
        return error_page(request, 422, problems or "invalid request")


class WebRoute(APIRoute):
    """A dashboard route: errors become HTML pages, a missing session a login redirect."""

    def get_route_handler(self) -> Handler:
        """Wrap FastAPI's handler (dependencies included) with the dashboard's rules."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response = await _handle(request, original)
            finish_response(request, response)
            return response

        return handler
