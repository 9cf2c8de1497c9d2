"""What every route shares: the runtime, the project, the caller, pages and the error shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar, cast

from fastapi import Depends, Header, Query, Request
from pydantic import BaseModel, Field

from rollgate.api.auth import PrincipalDep
from rollgate.engine.runtime import Runtime
from rollgate.runs.service import Project

DEFAULT_ACTOR = "api"
MAX_PAGE = 500
MAX_OFFSET = 2**31 - 1  # past a 64-bit integer the store's driver fails (a 500, not a 422)

T = TypeVar("T")


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was created with."""
    return cast(Runtime, request.app.state.runtime)


def get_project(request: Request) -> Project:
    """The spec, loaded afresh for each request so edits apply without a restart."""
    loader = cast(Callable[[], Project], request.app.state.project_loader)
    return loader()


def get_actor(
    principal: PrincipalDep,
    x_rollgate_actor: Annotated[
        str | None,
        Header(description="who is acting, in open mode only (no users yet); with users "
                           "the signed-in user is recorded and this header is ignored",
               max_length=128),
    ] = None,
) -> str:
    """The name recorded on runs and audit events: the signed-in user's.

    In open mode (no users) it is the ``X-Rollgate-Actor`` header, or ``api``.
    """
    if principal.via != "local":
        return principal.name
    actor = (x_rollgate_actor or "").strip()
    return actor or DEFAULT_ACTOR


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ProjectDep = Annotated[Project, Depends(get_project)]
ActorDep = Annotated[str, Depends(get_actor)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET,
                                description="items to skip (use `next_offset`)")]


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_offset`` is null on the last page."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page, null when none")


def page(rows: Sequence[Any], *, limit: int, offset: int) -> dict[str, Any]:
    """A page from up to ``limit + 1`` rows read at ``offset`` (the extra one means "more")."""
    more = len(rows) > limit
    return {"items": list(rows[:limit]), "limit": limit, "offset": offset,
            "next_offset": offset + limit if more else None}


class ErrorBody(BaseModel):
    """What went wrong, with a stable machine-readable code."""

    code: str = Field(description="stable error code, e.g. not_found, locked, invalid_request")
    message: str = Field(description="what went wrong and what to do")
    run_id: str | None = Field(None, description="the active run holding the lock (code locked)")


class ErrorOut(BaseModel):
    """Every error response has this shape."""

    error: ErrorBody


_ERRORS: dict[int, str] = {
    400: "bad input (unknown service or environment...)",
    401: "no valid credentials: send a Bearer token or a session cookie",
    403: "the caller lacks the role this needs on this environment (or a CSRF token)",
    404: "no such run, release, backup, user or token",
    409: "refused by a lock or a policy",
    422: "the request does not validate",
    429: "too many failed logins: wait for Retry-After seconds",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can return."""
    return {status: {"model": ErrorOut, "description": _ERRORS[status]} for status in statuses}
