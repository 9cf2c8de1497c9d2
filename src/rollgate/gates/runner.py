"""Run the spec's named checks for a service in an environment, with everything they may
need: its public URL and environment, the proxy's metrics, and the open incidents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rollgate.checks.base import CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import run_check
from rollgate.errors import RollgateError
from rollgate.spec.models import Spec
from rollgate.store import incidents as incident_store
from rollgate.store.db import Database

if TYPE_CHECKING:
    from rollgate.gates.checklist import Runner
    from rollgate.targets.local.target import LocalTarget


@dataclass(frozen=True)
class OpenIncident:
    """An open incident as checks see it."""

    severity: str
    title: str


def check_runner(db: Database, spec: Spec, spec_dir: Path, environment: str,
                 service: str | None, target: LocalTarget | None) -> Runner:
    """A function running one named check of ``spec`` for this service and environment."""

    def open_incidents() -> list[OpenIncident]:
        with db.read() as s:
            rows = incident_store.open_incidents(session=s, service=service,
                                                 environment=environment)
            return [OpenIncident(f"SEV{row.severity}", row.title) for row in rows]

    def run(name: str) -> CheckResult:
        env: dict[str, str] = {}
        if target is not None:
            try:
                env = target.service_env()
            except RollgateError:  # an unset ${NAME}: the checks that need it say so
                env = {}
        ctx = CheckContext(name=name, spec=spec, spec_dir=spec_dir, environment=environment,
                           service=service, base_url=target.public_url if target else None,
                           env=env, proxy_admin_url=target.proxy_admin_url() if target else None,
                           open_incidents=open_incidents)
        return run_check(spec.checks[name], ctx)

    return run
