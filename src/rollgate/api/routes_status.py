"""The public status page: ``/status`` (HTML), ``/status.json`` and ``/status.atom``.

No login, even once the server has users: these routes take no credentials and show only
what the public may see (``rollgate.statuspage.summary`` decides that). Proxies and
browsers may keep an answer for 15 seconds. With ``status_page.enabled: false`` in the spec
all three are 404.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from rollgate.api.common import ProjectDep, RuntimeDep, errors
from rollgate.engine.runtime import Runtime
from rollgate.errors import NotFoundError
from rollgate.runs.service import Project
from rollgate.statuspage import feed, views
from rollgate.statuspage.summary import Summary, summarize
from rollgate.store.runs import now
from rollgate.web.render import page
from rollgate.web.routing import WebRoute

CACHE_CONTROL = "public, max-age=15"

State = Literal["operational", "under_maintenance", "degraded", "partial_outage",
                "major_outage"]
Impact = Literal["none", "minor", "major", "critical"]
IncidentStatus = Literal["investigating", "identified", "mitigating", "resolved"]


class PageOut(BaseModel):
    """The page itself."""

    name: str = Field(description="the page's title (status_page.title)")
    environment: str = Field(description="the environment the page shows")
    updated_at: datetime = Field(description="the last public update or notice")


class IndicatorOut(BaseModel):
    """The page's overall status, in Statuspage's words."""

    indicator: Literal["none", "maintenance", "minor", "major", "critical"]
    description: str = Field(examples=["All Systems Operational"])


class ComponentOut(BaseModel):
    """A service as a component of the page."""

    id: str = Field(description="the service's name")
    name: str
    description: str | None
    status: State


class UpdateOut(BaseModel):
    """A public update of an incident."""

    id: int
    status: IncidentStatus
    body: str = Field(description="what was said (empty for a bare status change)")
    created_at: datetime


class StatusIncidentOut(BaseModel):
    """An incident as the public sees it."""

    id: str
    name: str
    status: IncidentStatus
    impact: Impact
    components: list[str] = Field(description="the components it affects (ids)")
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: list[UpdateOut] = Field(description="public updates, newest first")


class MaintenanceOut(BaseModel):
    """Announced maintenance."""

    id: int
    name: str
    status: Literal["scheduled", "in_progress", "completed"]
    impact: Literal["maintenance"]
    body: str
    components: list[str]
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime


class DayOut(BaseModel):
    """One UTC day of history."""

    date: date
    components: dict[str, State] = Field(description="each component's worst state that day")
    incidents: list[StatusIncidentOut] = Field(description="incidents opened that day")


class StatusOut(BaseModel):
    """The status page as JSON (the shape of Statuspage's summary.json, plus history)."""

    page: PageOut
    status: IndicatorOut
    components: list[ComponentOut]
    incidents: list[StatusIncidentOut] = Field(description="unresolved incidents")
    scheduled_maintenances: list[MaintenanceOut] = Field(
        description="maintenance in progress or to come")
    history: list[DayOut] = Field(description="the last status_page.history_days days, "
                                  "oldest first")


router = APIRouter(tags=["status"])
_html = APIRouter(route_class=WebRoute, include_in_schema=False)


def _summary(rt: Runtime, project: Project) -> Summary:
    if not project.spec.status_page.enabled:
        raise NotFoundError("there is no status page here (status_page.enabled is false in "
                            "the spec)")
    with rt.db.read() as session:
        return summarize(session, project.spec, now())


@_html.get("/status", response_class=HTMLResponse, name="status_page")
def status_page(request: Request, rt: RuntimeDep, project: ProjectDep) -> HTMLResponse:
    """The public status page."""
    summary = _summary(rt, project)
    response = page(request, "status.html", {"summary": summary})
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@router.get("/status.json", response_model=StatusOut, responses=errors(404),
            summary="The public status page",
            description="Components and their states, unresolved incidents with their public "
                        "updates, maintenance in progress or to come, and the day-by-day "
                        "history. Needs no credentials; 404 when the spec turns the status "
                        "page off.")
def status_json(rt: RuntimeDep, project: ProjectDep, response: Response) -> dict[str, Any]:
    """The status page as JSON."""
    summary = _summary(rt, project)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return views.summary_dict(summary)


@_html.get("/status.atom", name="status_feed")
def status_feed(request: Request, rt: RuntimeDep, project: ProjectDep) -> Response:
    """The status page's Atom feed."""
    summary = _summary(rt, project)
    body = feed.atom(summary, page_url=str(request.url_for("status_page")),
                     feed_url=str(request.url_for("status_feed")),
                     authority=request.url.hostname or "localhost")
    return Response(body, media_type="application/atom+xml",
                    headers={"Cache-Control": CACHE_CONTROL})


router.include_router(_html)
