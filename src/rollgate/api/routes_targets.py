"""What runs where: status of every target, releases, and the server's own health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from rollgate.api.auth import PrincipalDep
from rollgate.api.common import Limit, Offset, Page, ProjectDep, RuntimeDep, errors, page
from rollgate.errors import UsageError
from rollgate.runs.status import target_status
from rollgate.store import inventory
from rollgate.store.tables import Release

router = APIRouter(prefix="/api")


class InstanceOut(BaseModel):
    """One running process of a version."""

    model_config = ConfigDict(extra="allow")

    id: str
    version: str
    replica: int
    pid: int
    port: int
    alive: bool
    healthy: bool = Field(description="alive and passing its health check right now")
    retire_at: datetime | None = Field(description="when a warm instance will be stopped")


class TargetOut(BaseModel):
    """A service in an environment: live version, traffic weights, instances."""

    model_config = ConfigDict(extra="allow")

    service: str
    environment: str
    live: str | None = Field(description="the live version")
    previous: str | None = Field(description="the version live before it")
    weights: dict[str, int] = Field(description="share of traffic per version, in percent")
    proxy: bool = Field(description="the traffic proxy is running")
    url: str = Field(description="the service's public URL")
    instances: list[InstanceOut]
    active_run: str | None = Field(description="the run holding this target, if any")


class ReleaseOut(BaseModel):
    """A version of a service, recorded the first time it was deployed."""

    service: str
    version: str
    created_at: datetime
    notes: str | None
    commit_sha: str | None = Field(None, description="the commit it was built from")
    committed_at: datetime | None = Field(None, description="when that commit was made")


class HealthOut(BaseModel):
    """The server is up; ``executor`` is the engine executor id of this process."""

    status: str
    executor: str


def release_dict(release: Release) -> dict[str, Any]:
    """A release as plain data."""
    return {"service": release.service, "version": release.version,
            "created_at": release.created_at, "notes": release.notes,
            "commit_sha": release.commit_sha, "committed_at": release.committed_at}


@router.get("/status", response_model=list[TargetOut], tags=["targets"],
            responses=errors(400, 401, 403, 422),
            summary="Status of every service in every environment",
            description="Live version, traffic weights and instances, each instance's health "
                        "probed once. Slow targets make this slower: it is not for tight polls. "
                        "Only environments the caller may view (viewer) are listed.")
def status(
    rt: RuntimeDep, project: ProjectDep, principal: PrincipalDep,
    environment: Annotated[str | None, Query(description="only this environment")] = None,
) -> list[dict[str, Any]]:
    """Status of every service x environment."""
    principal.check_somewhere("viewer")
    if environment is not None and environment not in project.spec.environments:
        raise UsageError(f"unknown environment {environment!r}; the spec has: "
                         f"{', '.join(project.spec.environments)}")
    if environment is not None:
        principal.check("viewer", environment)
    return [target_status(rt, project, svc, env)
            for env in project.spec.environments
            if environment in (None, env) and principal.can("viewer", env)
            for svc in project.spec.services]


@router.get("/releases", response_model=Page[ReleaseOut], tags=["targets"],
            responses=errors(401, 403, 422),
            summary="List releases",
            description="Versions deployed at least once, newest first; paginated. Releases "
                        "belong to no environment: viewer on any environment may list them.")
def releases(
    rt: RuntimeDep,
    principal: PrincipalDep,
    service_name: Annotated[str | None, Query(alias="service", description="only this service")
                            ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """List releases, newest first."""
    principal.check_somewhere("viewer")
    with rt.db.session() as s:
        rows = inventory.releases(session=s, service=service_name, limit=limit + 1,
                                  offset=offset)
    return page([release_dict(r) for r in rows], limit=limit, offset=offset)


@router.get("/health", response_model=HealthOut, tags=["server"], summary="Server health",
            description="Answers while the server runs; names this process's executor id.")
def health(rt: RuntimeDep) -> dict[str, str]:
    """The server is up."""
    return {"status": "ok", "executor": rt.executor_id}
