"""Checklists as the CLI, the API and deploys use them: evaluate, and record confirmations."""

from __future__ import annotations

from pathlib import Path

from rollgate.engine.runtime import Runtime
from rollgate.errors import UsageError
from rollgate.gates import checklist
from rollgate.gates.runner import check_runner
from rollgate.runs.service import Project, via_detail
from rollgate.spec.checklists import Phase
from rollgate.spec.models import Spec
from rollgate.store import audit
from rollgate.store import checklists as checklist_store
from rollgate.store.db import Database
from rollgate.targets.local.target import LocalTarget


def default_service(project: Project, service: str | None) -> str | None:
    """The service a checklist is about: the one given, or the spec's only one."""
    if service is None and len(project.spec.services) == 1:
        return next(iter(project.spec.services))
    if service is not None and service not in project.spec.services:
        raise UsageError(f"unknown service {service!r}; the spec has: "
                         f"{', '.join(project.spec.services)}")
    return service


def evaluate(rt: Runtime, project: Project, *, phase: Phase, environment: str,
             service: str | None = None, version: str | None = None, strict: bool = False,
             run_checks: bool = True) -> checklist.ChecklistResult:
    """The checklist now: automated items run (unless ``run_checks`` is false), manual items
    with their confirmations."""
    project.check_environment(environment)
    service = default_service(project, service)
    target = project.target(rt, service, environment) if service and run_checks else None
    return judge(rt.db, project.spec, project.spec_dir, phase, environment, service=service,
                 version=version, target=target, strict=strict, run_checks=run_checks)


def judge(db: Database, spec: Spec, spec_dir: Path, phase: Phase, environment: str, *,
          service: str | None, version: str | None, target: LocalTarget | None,
          strict: bool = False, run_checks: bool = True) -> checklist.ChecklistResult:
    """A checklist with its confirmations from the store and (``run_checks``) its
    automated items run against ``target``: what `rollgate checklist` and a run's
    checklist step both judge."""
    with db.read() as s:
        confirmed = checklist_store.confirmations(session=s, phase=phase,
                                                  environment=environment, service=service,
                                                  version=version)
    runner = (check_runner(db, spec, spec_dir, environment, service, target)
              if run_checks else None)
    return checklist.evaluate(spec, phase, environment, service=service, version=version,
                              confirmations=confirmed, run=runner, strict=strict)


def confirm(rt: Runtime, project: Project, *, phase: Phase, environment: str,
            service: str | None, version: str | None, items: list[str], actor: str,
            comment: str | None, via: str | None = None) -> None:
    """Record that ``actor`` confirms manual ``items`` (all or nothing), in the audit log
    too; an item that is not a manual item of this checklist is refused, naming those
    that are."""
    project.check_environment(environment)
    service = default_service(project, service)
    manual = {i.key: i for i in checklist.items_for(project.spec, phase, environment, service)
              if i.manual}
    unknown = [i for i in items if i not in manual]
    if unknown:
        raise UsageError(f"{', '.join(unknown)}: not a manual item of the {phase} checklist "
                         f"of {environment}; its manual items: {', '.join(manual) or 'none'}")
    with rt.db.session() as s:
        for item in items:
            checklist_store.confirm(session=s, phase=phase, environment=environment,
                                    service=service, version=version, item=item, actor=actor,
                                    comment=comment)
            audit.record(session=s, actor=actor, action="checklist.confirmed",
                         target=f"{service or '*'}/{environment}",
                         detail={"phase": phase, "item": item, "text": manual[item].manual,
                                 "version": version, "comment": comment, **via_detail(via)})
