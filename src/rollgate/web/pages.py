"""Dashboard pages: the overview, run history, a run (live), and its analysis chart."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from rollgate.api.common import ProjectDep, RuntimeDep
from rollgate.engine.runtime import Runtime
from rollgate.errors import RollgateError
from rollgate.runs.service import Project, approval_step
from rollgate.runs.status import target_status
from rollgate.runs.views import run_dict, step_dict
from rollgate.store import checks as check_store
from rollgate.store import runs as run_store
from rollgate.store.tables import AnalysisCheck
from rollgate.strategies.base import OTHERS_STEP
from rollgate.web import chart
from rollgate.web.access import Visitor, VisitorDep
from rollgate.web.render import page
from rollgate.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

STATUSES = ("pending", "running", "succeeded", "failed", "rolled_back", "cancelled")
CHARTED = {"canary", "blue-green"}
PAGE_SIZE = 25


# -- overview -------------------------------------------------------------------------------


def _cell(rt: Runtime, project: Project, visitor: Visitor, svc: str, env: str
          ) -> dict[str, Any]:
    try:
        status: dict[str, Any] | None = target_status(rt, project, svc, env)
        error = None
    except (RollgateError, OSError) as exc:
        status, error = None, str(exc)
    return {"environment": env, "status": status, "error": error,
            "can_act": visitor.can("deployer", env)}


def targets_context(rt: Runtime, project: Project, visitor: Visitor) -> dict[str, Any]:
    """Services x environments, each cell a target's status."""
    envs = visitor.visible(list(project.spec.environments))
    rows = [{"service": svc, "cells": [_cell(rt, project, visitor, svc, env) for env in envs]}
            for svc in project.spec.services]
    return {"environments": envs, "rows": rows, "project": project.spec.project}


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, rt: RuntimeDep, project: ProjectDep, visitor: VisitorDep
             ) -> HTMLResponse:
    """Services x environments: live version, traffic weights, health, active run."""
    return page(request, "index.html", {"nav": "overview",
                                        **targets_context(rt, project, visitor)})


@router.get("/fragments/targets", response_class=HTMLResponse)
def targets_fragment(request: Request, rt: RuntimeDep, project: ProjectDep,
                     visitor: VisitorDep) -> HTMLResponse:
    """The overview's table alone, for the page to refresh itself."""
    return page(request, "_targets.html", targets_context(rt, project, visitor))


# -- run history ----------------------------------------------------------------------------


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


def _page_url(filters: dict[str, str | None], limit: int, offset: int) -> str:
    query = {k: v for k, v in filters.items() if v}
    return "/runs?" + urlencode({**query, "limit": limit, "offset": offset})


@router.get("/runs", response_class=HTMLResponse)
def runs(
    request: Request, rt: RuntimeDep, project: ProjectDep, visitor: VisitorDep,
    service: Annotated[str | None, Query(max_length=64)] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Run history, newest first, filtered by service, environment and status."""
    filters = {"service": _blank(service), "environment": _blank(environment),
               "status": _blank(status)}
    if filters["environment"]:
        visitor.require("viewer", filters["environment"])
    with rt.db.session() as s:
        rows = run_store.list_runs(session=s, service=filters["service"],
                                   environment=filters["environment"],
                                   status=filters["status"], limit=limit + 1, offset=offset,
                                   environments=visitor.principal.environments("viewer"))
    more = len(rows) > limit
    items = [run_dict(r) for r in rows[:limit]]
    return page(request, "runs.html", {
        "nav": "runs", "runs": items, "filters": filters, "limit": limit,
        "services": _known(project.spec.services, filters["service"]),
        "environments": _known(visitor.visible(list(project.spec.environments)),
                               filters["environment"]),
        "statuses": STATUSES, "first": offset + 1 if items else 0, "last": offset + len(items),
        "prev_url": _page_url(filters, limit, max(0, offset - limit)) if offset else None,
        "next_url": _page_url(filters, limit, offset + limit) if more else None,
    })


def _known(names: Any, chosen: str | None) -> list[str]:
    """The spec's names, plus a filtered one the spec no longer has."""
    known = list(names)
    if chosen and chosen not in known:
        known.append(chosen)
    return known


# -- one run --------------------------------------------------------------------------------


def _load(rt: Runtime, run_id: str, visitor: Visitor
          ) -> tuple[dict[str, Any], list[AnalysisCheck]]:
    with rt.db.session() as s:
        run = run_store.get_run(session=s, run_id=run_id)
        visitor.require("viewer", run.environment)
        steps = run_store.list_steps(session=s, run_id=run_id)
        checks = check_store.for_run(session=s, run_id=run_id)
        data = run_dict(run)
        data["steps"] = [step_dict(st) for st in steps]
        waiting = approval_step(run, steps)
        data["awaiting_approval"] = waiting is not None
        # At an environment's approvals step the requester may not decide (four eyes).
        data["own_four_eyes"] = bool(waiting and waiting.name.startswith(OTHERS_STEP)
                                     and visitor.actor == run.actor)
    return data, checks


def latest_checks(checks: list[AnalysisCheck]) -> list[AnalysisCheck]:
    """The newest record of each check, in the order the checks first appeared."""
    latest: dict[tuple[str, str], AnalysisCheck] = {}
    for c in checks:
        latest.pop((c.analysis, c.name), None)
        latest[(c.analysis, c.name)] = c
    order = list(dict.fromkeys((c.analysis, c.name) for c in checks))
    return [latest[key] for key in order]


def run_context(rt: Runtime, run_id: str, visitor: Visitor) -> dict[str, Any]:
    """What the run page shows."""
    run, checks = _load(rt, run_id, visitor)
    return {
        "run": run, "steps": run["steps"], "latest_checks": latest_checks(checks),
        "terminal": run["status"] in run_store.TERMINAL,
        "can_act": visitor.can("deployer", run["environment"]),
        "can_approve": (run["awaiting_approval"] and not run["own_four_eyes"]
                        and visitor.can("approver", run["environment"])),
        "show_chart": bool(checks) or (run["kind"] == "deploy" and run["strategy"] in CHARTED),
        "chart_svg": Markup(chart.render(chart.series_of(checks))),
    }


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, rt: RuntimeDep, visitor: VisitorDep
             ) -> HTMLResponse:
    """A run: steps with state, timings, attempts, output and errors; the analysis chart."""
    return page(request, "run.html", {"nav": "runs", **run_context(rt, run_id, visitor)})


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def run_fragment(request: Request, run_id: str, rt: RuntimeDep, visitor: VisitorDep
                 ) -> HTMLResponse:
    """The live part of the run page, re-fetched by the page when an event arrives."""
    return page(request, "_run_live.html", run_context(rt, run_id, visitor))


@router.get("/runs/{run_id}/chart.svg")
def run_chart(run_id: str, rt: RuntimeDep, visitor: VisitorDep) -> Response:
    """The analysis chart of a run as an SVG document."""
    _, checks = _load(rt, run_id, visitor)
    svg = chart.render(chart.series_of(checks), title=f"analysis checks of {run_id}")
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "no-store"})
