"""The FastAPI application: routers, and one error shape for every failure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from rollgate import __version__, web
from rollgate.api import (
    routes_audit,
    routes_auth,
    routes_data,
    routes_gates,
    routes_incidents,
    routes_notifications,
    routes_reports,
    routes_runs,
    routes_status,
    routes_targets,
)
from rollgate.api.security import install_security
from rollgate.engine.runtime import Runtime
from rollgate.errors import LockedError, RollgateError
from rollgate.runs.service import Project
from rollgate.store.db import POOL_SIZE

DESCRIPTION = """\
Deploy, roll back and follow runs; see what runs where.

Every error has the shape `{"error": {"code": "...", "message": "..."}}`.

Once the server has users, every route but `/api/health`, the login routes, these docs and
the public status page (`/status`, `/status.json`, `/status.atom`) needs credentials: an
API token (`Authorization: Bearer rg_…`, from `POST /api/auth/token` or `rollgate tokens
create`) or the `rollgate_session` cookie of `POST /api/auth/session`
(then changes also need its `X-CSRF-Token`). Roles per environment: viewer < deployer <
approver < admin. With no users (open mode) the server acts as an admin and the caller is
named by the `X-Rollgate-Actor` header (default `api`).
"""

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    # Sync routes run in threads: no more at once than the store has pooled connections.
    anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
    yield


def create_app(rt: Runtime, project_loader: Callable[[], Project]) -> FastAPI:
    """The API app over a runtime; ``project_loader`` reads the spec for each request."""
    app = FastAPI(
        lifespan=_lifespan,
        title="rollgate", version=__version__, description=DESCRIPTION,
        docs_url=None, redoc_url=None,  # install_security serves /docs under a strict CSP
        openapi_tags=[
            {"name": "runs", "description": "deploys, rollbacks and their live progress"},
            {"name": "targets", "description": "what runs where, and releases"},
            {"name": "server", "description": "this server"},
            {"name": "gates", "description": "checklists and maintenance notices"},
            {"name": "audit", "description": "the hash-chained audit log"},
            {"name": "incidents", "description": "incidents: open, run and resolve them; "
                                                 "Alertmanager webhooks"},
            {"name": "notifications", "description": "the outbox: messages to Slack, "
                                                     "webhooks, PagerDuty and e-mail; resend "
                                                     "dead letters"},
            {"name": "auth", "description": "log in, API tokens, who am I"},
            {"name": "users", "description": "users and their roles per environment (admin)"},
        ],
    )
    app.state.runtime = rt
    app.state.project_loader = project_loader
    app.add_exception_handler(RollgateError, _rollgate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    app.include_router(routes_runs.router)
    app.include_router(routes_targets.router)
    app.include_router(routes_data.router)
    app.include_router(routes_gates.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_auth.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    app.include_router(routes_audit.router)
    app.include_router(routes_incidents.router)
    app.include_router(routes_notifications.router)
    app.include_router(routes_status.router)

    app.add_middleware(RefuseNulBytes)
    install_security(app)
    return app


class RefuseNulBytes:
    """ASGI middleware: a URL with a NUL character is a 400 (no store can keep one:
    PostgreSQL refuses it). Plain ASGI, so every other request passes at no cost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 400 for a NUL in the path or query; pass anything else on."""
        if scope["type"] == "http" and ("\x00" in scope["path"]
                                        or b"%00" in scope.get("query_string", b"")):
            response = error_response(400, "bad_request",
                                      "the URL contains a NUL character (%00)")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """A JSON error in the API's one shape."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}},
                        status_code=status)


async def _rollgate_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RollgateError)
    extra = {"run_id": exc.run_id} if isinstance(exc, LockedError) else {}
    response = error_response(exc.http_status, exc.code, exc.message, **extra)
    response.headers.update(exc.http_headers())
    return response


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(part) for part in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    ]
    return error_response(422, "invalid_request", "; ".join(problems) or "invalid request")


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"),
                              str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
    # The server logs the traceback; the caller gets the shape, not the internals.
    return error_response(500, "internal", "internal error; see the server's log")
