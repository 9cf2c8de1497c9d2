"""The FastAPI application: routers, and one error shape for every failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rollgate import __version__
from rollgate.api import routes_data, routes_runs, routes_targets
from rollgate.engine.runtime import Runtime
from rollgate.errors import LockedError, RollgateError
from rollgate.runs.service import Project

DESCRIPTION = """\
Deploy, roll back and follow runs; see what runs where.

Every error has the shape `{"error": {"code": "...", "message": "..."}}`.
The caller is named by the `X-Rollgate-Actor` header (default `api`).
"""

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def create_app(rt: Runtime, project_loader: Callable[[], Project]) -> FastAPI:
    """The API app over a runtime; ``project_loader`` reads the spec for each request."""
    app = FastAPI(
        title="rollgate", version=__version__, description=DESCRIPTION,
        openapi_tags=[
            {"name": "runs", "description": "deploys, rollbacks and their live progress"},
            {"name": "targets", "description": "what runs where, and releases"},
            {"name": "server", "description": "this server"},
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
    return app


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """A JSON error in the API's one shape."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}},
                        status_code=status)


async def _rollgate_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RollgateError)
    extra = {"run_id": exc.run_id} if isinstance(exc, LockedError) else {}
    return error_response(exc.http_status, exc.code, exc.message, **extra)


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
