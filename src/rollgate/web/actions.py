"""Dashboard actions: deploy, rollback (app, database or both), cancel and approve, each
confirmed before it runs.

Each action is two POSTs of the same form: the first shows what will happen, the second
(``confirm=yes``) does it through ``rollgate.runs.service`` exactly as the API does, then
redirects to the run's page. Both check the CSRF token and the visitor's role for the
environment, whatever the page showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from rollgate.api.common import ProjectDep, RuntimeDep
from rollgate.engine.runtime import Runtime
from rollgate.errors import LockedError, RefusedError, RollgateError, UsageError
from rollgate.runs import service
from rollgate.runs.service import Project, RollbackPlan
from rollgate.store import backups as backup_store
from rollgate.store import inventory
from rollgate.store import runs as run_store
from rollgate.store.tables import Backup
from rollgate.web.access import Visitor, VisitorDep, check_csrf
from rollgate.web.forms import Form, FormDep
from rollgate.web.render import page
from rollgate.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ROLE = "deployer"
APPROVER = "approver"
Name = Annotated[str | None, Query(max_length=64)]


def require_role(visitor: Visitor, environment: str | None) -> None:
    """The visitor is a deployer there (or somewhere, before an environment is chosen)."""
    if environment:
        visitor.require(ROLE, environment)
    else:
        visitor.principal.check_somewhere(ROLE)


def to_run(run_id: str) -> RedirectResponse:
    """After an action: the run's page."""
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


def versions(rt: Runtime, service_name: str | None) -> list[str]:
    """Known releases of a service, newest first."""
    if not service_name:
        return []
    with rt.db.session() as s:
        return [r.version for r in inventory.releases(session=s, service=service_name,
                                                      limit=100)]


def live_version(rt: Runtime, service_name: str, environment: str) -> str | None:
    """The version live for a target, if any."""
    with rt.db.session() as s:
        row = inventory.deployment(session=s, service=service_name, environment=environment)
        return row.version if row else None


def confirm_page(request: Request, *, heading: str, impact: list[str], action: str,
                 fields: dict[str, str | None], button: str | None, back: str,
                 danger: bool = False, inputs: Sequence[tuple[str, str, str]] = (),
                 error: str | None = None, status: int = 200) -> HTMLResponse:
    """The confirmation step: what will happen, and one button to do it.

    ``inputs`` are text fields (name, label, value) to fill in before confirming; with an
    ``error`` (a refusal) and no ``button``, the page says why and offers only the way back.
    """
    return page(request, "confirm.html", {
        "heading": heading, "impact": impact, "action": action, "button": button,
        "fields": [(k, v) for k, v in fields.items() if v], "back": back, "danger": danger,
        "inputs": list(inputs), "error": error}, status=status)


def _refusal(exc: RollgateError) -> dict[str, Any]:
    return {"error": exc.message,
            "error_run": exc.run_id if isinstance(exc, LockedError) else None}


# -- deploy ---------------------------------------------------------------------------------


def _deploy_form(request: Request, rt: Runtime, project: Project, visitor: Visitor,
                 values: dict[str, str | None], status: int = 200, **error: Any
                 ) -> HTMLResponse:
    visitor.principal.check_somewhere(ROLE)
    envs = [e for e in project.spec.environments if visitor.can(ROLE, e)]
    chosen = values.get("service") or next(iter(project.spec.services), None)
    return page(request, "deploy.html", {
        "nav": "deploy", "services": list(project.spec.services), "environments": envs,
        "values": {"service": chosen, "environment": values.get("environment"),
                   "version": values.get("version") or ""},
        "versions": versions(rt, chosen), "error": error.get("error"),
        "error_run": error.get("error_run")}, status=status)


@router.get("/deploy", response_class=HTMLResponse)
def deploy_form(request: Request, rt: RuntimeDep, project: ProjectDep, visitor: VisitorDep,
                service_name: Annotated[str | None, Query(alias="service", max_length=64)
                                        ] = None,
                environment: Name = None,
                version: Annotated[str | None, Query(max_length=128)] = None) -> HTMLResponse:
    """The deploy form (service, environment, version)."""
    values = {"service": service_name, "environment": environment, "version": version}
    return _deploy_form(request, rt, project, visitor, values)


def _deploy_impact(rt: Runtime, project: Project, svc: str, env: str, version: str
                   ) -> list[str]:
    live = live_version(rt, svc, env)
    strategy = project.spec.environments[env].strategy.kind
    impact = [f"{svc} in {env} goes from {live or 'nothing live'} to {version}",
              f"strategy: {strategy}"]
    if live == version:
        impact.append(f"{version} is already live: this deploys it again")
    return impact


@router.post("/deploy", response_class=HTMLResponse)
async def deploy(request: Request, rt: RuntimeDep, project: ProjectDep, visitor: VisitorDep,
                 form: FormDep) -> Response:
    """Review a deploy, then (confirmed) start it and go to its run page."""
    check_csrf(request, visitor, form)
    svc, env, version = form.text("service"), form.text("environment"), form.text("version")
    values = {"service": svc, "environment": env, "version": version}
    require_role(visitor, env)
    try:
        if not (svc and env and version):
            raise UsageError("choose a service, an environment and a version")
        project.check_target(svc, env)
        if not form.flag("confirm"):
            impact = await run_in_threadpool(_deploy_impact, rt, project, svc, env, version)
            return confirm_page(request, heading=f"Deploy {version} of {svc} to {env}?",
                                impact=impact, action="/deploy", fields=values,
                                button="Deploy", back="/deploy?" + urlencode({"service": svc}))
        run_id = await run_in_threadpool(
            lambda: service.deploy(rt, project, service=svc, environment=env,
                                   version=version, actor=visitor.actor, via=visitor.via))
    except RollgateError as exc:
        return _deploy_form(request, rt, project, visitor, values, exc.http_status,
                            **_refusal(exc))
    return to_run(run_id)


# -- rollback -------------------------------------------------------------------------------

SCOPES = {"app": "app only: the data is left as it is",
          "db": "database only: restore a backup, the app version stays",
          "full": "app and database: back to an earlier version and its data"}
BACKUPS_SHOWN = 50


def _backups(rt: Runtime, project: Project, svc: str, env: str) -> list[Backup] | None:
    """The backups a db or full rollback may restore, newest first (None: no database)."""
    database = project.spec.services[svc].database
    if database is None:
        return None
    with rt.db.session() as s:
        return backup_store.listing(session=s, database=database, environment=env,
                                    include_pruned=False, limit=BACKUPS_SHOWN)


def _rollback_form(request: Request, rt: Runtime, project: Project, values: dict[str, Any],
                   status: int = 200, **error: Any) -> HTMLResponse:
    svc, env = values["service"], values["environment"]
    project.check_target(svc, env)
    try:
        default_to: str | None = service.rollback_target(rt, project, service=svc,
                                                         environment=env, to=None)[1]
    except RefusedError as exc:
        default_to = None
        error.setdefault("error", exc.message)
    return page(request, "rollback.html", {
        "values": {"reason": "", "to": None, "scope": "app", "backup": None, **values},
        "live": live_version(rt, svc, env), "default_to": default_to,
        "versions": versions(rt, svc), "scopes": SCOPES,
        "backups": _backups(rt, project, svc, env),
        "error": error.get("error"), "error_run": error.get("error_run")}, status=status)


@router.get("/rollback", response_class=HTMLResponse)
def rollback_form(request: Request, rt: RuntimeDep, project: ProjectDep, visitor: VisitorDep,
                  service_name: Annotated[str, Query(alias="service", max_length=64)],
                  environment: Annotated[str, Query(max_length=64)]) -> HTMLResponse:
    """The rollback form: a reason (required), the scope (app, database or both), the
    version to go back to and the backup to restore."""
    visitor.require(ROLE, environment)
    return _rollback_form(request, rt, project,
                          {"service": service_name, "environment": environment})


def _rollback_args(form: Form) -> dict[str, Any]:
    """The service's rollback arguments from the form: what the scope does not use is left
    out, and a database-only rollback without a chosen backup restores the latest one."""
    scope = form.text("scope") or "app"
    backup = form.text("backup") if scope != "app" else None
    return {"scope": scope, "to": form.text("to") if scope != "db" else None,
            "backup_id": backup, "latest_backup": scope == "db" and not backup}


def _pinned(plan: RollbackPlan) -> dict[str, str | None]:
    """The version and backup the confirmation showed, so that confirming does just that."""
    return {"to": plan.to if plan.scope != "db" else None,
            "backup": plan.backup.id if plan.backup else None}


@router.post("/rollback", response_class=HTMLResponse)
async def rollback(request: Request, rt: RuntimeDep, project: ProjectDep,
                   visitor: VisitorDep, form: FormDep) -> Response:
    """Review a rollback (app, database or both), then (confirmed) start it and go to its
    run page."""
    check_csrf(request, visitor, form)
    svc, env = form.text("service") or "", form.text("environment") or ""
    reason, args = form.text("reason"), _rollback_args(form)
    require_role(visitor, env)
    values = {"service": svc, "environment": env, "reason": reason or "",
              "scope": args["scope"], "to": args["to"], "backup": args["backup_id"]}
    try:
        if not reason:
            raise UsageError("a rollback needs a reason: say what went wrong")
        if not form.flag("confirm"):
            plan = await run_in_threadpool(
                lambda: service.plan_rollback(rt, project, service=svc, environment=env,
                                              **args))
            return confirm_page(request, heading=f"Roll back {svc} in {env}?",
                                impact=[f"scope: {SCOPES[plan.scope]}", *plan.impact,
                                        f"reason: {reason}"],
                                action="/rollback", fields={**values, **_pinned(plan)},
                                button="Roll back", danger=True,
                                back="/rollback?" + urlencode({"service": svc,
                                                               "environment": env}))
        run_id = await run_in_threadpool(
            lambda: service.rollback(rt, project, service=svc, environment=env,
                                     reason=reason, actor=visitor.actor, via=visitor.via,
                                     **args))
    except RollgateError as exc:
        return _rollback_form(request, rt, project, values, exc.http_status, **_refusal(exc))
    return to_run(run_id)


# -- cancel ---------------------------------------------------------------------------------


def _run_target(rt: Runtime, run_id: str) -> dict[str, str]:
    with rt.db.session() as s:
        run = run_store.get_run(session=s, run_id=run_id)
        return {"environment": run.environment, "service": run.service, "kind": run.kind,
                "version": run.version, "status": run.status}


@router.post("/runs/{run_id}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, run_id: str, rt: RuntimeDep, visitor: VisitorDep,
                 form: FormDep) -> Response:
    """Review a cancel, then (confirmed) ask the run to stop and go back to its page."""
    check_csrf(request, visitor, form)
    run = await run_in_threadpool(_run_target, rt, run_id)
    visitor.require(ROLE, run["environment"])
    if not form.flag("confirm"):
        return confirm_page(
            request, heading=f"Cancel run {run_id}?", action=f"/runs/{run_id}/cancel",
            impact=[f"{run['service']} in {run['environment']}: the {run['kind']} to "
                    f"{run['version']} stops (it is {run['status']} now)",
                    "what it started is discarded or rolled back; it ends cancelled"],
            fields={}, button="Cancel the run", back=f"/runs/{run_id}", danger=True)
    await run_in_threadpool(lambda: service.cancel(rt, run_id, visitor.actor, via=visitor.via))
    return to_run(run_id)



# -- approve --------------------------------------------------------------------------------


@router.post("/runs/{run_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, run_id: str, rt: RuntimeDep, visitor: VisitorDep,
                  form: FormDep) -> Response:
    """Review an approval (with an optional comment), then (confirmed) let the run waiting
    at its approval step go on and go back to its page."""
    return await _decide(request, run_id, rt, visitor, form, reject=False)


@router.post("/runs/{run_id}/reject", response_class=HTMLResponse)
async def reject(request: Request, run_id: str, rt: RuntimeDep, visitor: VisitorDep,
                 form: FormDep) -> Response:
    """Review a rejection (a comment is required), then (confirmed) make the waiting run
    fail before it touches anything, and go back to its page."""
    return await _decide(request, run_id, rt, visitor, form, reject=True)


async def _decide(request: Request, run_id: str, rt: Runtime, visitor: Visitor,
                  form: Form, *, reject: bool) -> Response:
    check_csrf(request, visitor, form)
    run = await run_in_threadpool(_run_target, rt, run_id)
    visitor.require(APPROVER, run["environment"])
    comment = form.text("comment")
    verb = "reject" if reject else "approve"
    heading, back = f"{verb.capitalize()} run {run_id}?", f"/runs/{run_id}"
    try:
        if form.flag("confirm"):
            await run_in_threadpool(
                lambda: service.approve(rt, run_id, visitor.actor, comment, via=visitor.via,
                                        reject=reject))
            return to_run(run_id)
        _, step = await run_in_threadpool(service.waiting_for_approval, rt, run_id)
    except RollgateError as exc:
        return confirm_page(request, heading=heading, impact=[], action="", fields={},
                            button=None, back=back, error=exc.message,
                            status=exc.http_status)
    where = f"{run['service']} in {run['environment']}: the {run['kind']} to {run['version']}"
    if reject:
        impact = [f"{where} fails at “{step.name}”, before it touches anything",
                  f"recorded as rejected by {visitor.actor}, with your reason"]
        inputs = [("comment", "Why (required, recorded)", comment or "")]
    else:
        impact = [f"{where} stops waiting at “{step.name}” and goes on with its next steps",
                  f"recorded as approved by {visitor.actor}, with the comment if you give one"]
        inputs = [("comment", "Comment (optional, recorded)", comment or "")]
    return confirm_page(request, heading=heading, action=f"/runs/{run_id}/{verb}",
                        impact=impact, fields={}, inputs=inputs, button=verb.capitalize(),
                        back=back, danger=reject)
