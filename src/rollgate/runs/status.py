"""What runs where, as data: live version, weights, instances and their health."""

from __future__ import annotations

from typing import Any

from rollgate.checks.health import probe
from rollgate.engine.runtime import Runtime
from rollgate.runs.service import Project
from rollgate.store import inventory
from rollgate.store import runs as run_store
from rollgate.store.tables import Instance


def target_status(rt: Runtime, project: Project, service: str, environment: str
                  ) -> dict[str, Any]:
    """The state of one service in one environment, probing each instance's health once."""
    target = project.target(rt, service, environment)
    with rt.db.session() as s:
        live = inventory.deployment(session=s, service=service, environment=environment)
        active = run_store.active_run_id(session=s, service=service, environment=environment)
        rows = {r.id: r for r in inventory.instances(session=s, service=service,
                                                      environment=environment)}
    proxy_up = target.proxy_running()
    instances = []
    for inst in target.instances():
        row: Instance = rows[inst.id]
        healthy = inst.alive and probe(inst.url, target.svc.health).ok
        instances.append({"id": inst.id, "version": inst.version, "replica": inst.replica,
                          "pid": inst.pid, "port": inst.port, "alive": inst.alive,
                          "healthy": healthy, "retire_at": row.retire_at})
    return {
        "service": service, "environment": environment,
        "live": live.version if live else None,
        "previous": live.previous_version if live else None,
        "weights": target.weights() if proxy_up else {},
        "proxy": proxy_up, "url": target.public_url, "instances": instances,
        "active_run": active, "maintenance": target.maintenance() if proxy_up else None,
    }
