"""The local target: versions run as detached processes behind rollgate's own proxy."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rollgate.checks.health import wait_healthy
from rollgate.errors import TargetError, UsageError
from rollgate.redact import fill_refs
from rollgate.spec.models import Spec
from rollgate.store import inventory
from rollgate.store.db import Database
from rollgate.store.runs import now
from rollgate.store.tables import Instance, Proxy
from rollgate.targets.base import InstanceInfo
from rollgate.targets.local import processes
from rollgate.targets.local.proxy_client import Backend, ProxyClient, start_proxy, stop_proxy
from rollgate.targets.local.proxy_maintenance import check_message

log = logging.getLogger(__name__)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


class LocalTarget:
    """Runs a service's versions on this machine and routes its public port by weight."""

    kind: ClassVar[str] = "local"

    def __init__(
        self, *, spec: Spec, spec_dir: Path, service: str, environment: str, db: Database,
        state_dir: Path,
    ) -> None:
        self.spec = spec
        self.spec_dir = spec_dir
        self.service = service
        self.environment = environment
        self.svc = spec.services[service]
        self.db = db
        self.state_dir = state_dir
        self.public_port = spec.public_port(service, environment)

    # -- router -----------------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        """Where users reach the service."""
        return f"http://127.0.0.1:{self.public_port}"

    def _proxy_row(self) -> Proxy | None:
        with self.db.session() as s:
            return inventory.proxy(session=s, service=self.service, environment=self.environment)

    def _client(self) -> ProxyClient:
        row = self._proxy_row()
        if row is None or not processes.alive(row.pid):
            raise TargetError(
                f"no proxy runs for {self.service} in {self.environment}; "
                f"deploy a version first (`rollgate deploy {self.service} --env "
                f"{self.environment} --version ...`)"
            )
        return ProxyClient(row.admin_url)

    def proxy_running(self) -> bool:
        """True when this target's proxy process is up and answers."""
        row = self._proxy_row()
        if row is None or row.host != socket.gethostname():
            return False
        if not processes.alive(row.pid):
            return False
        try:
            ProxyClient(row.admin_url).health()
        except TargetError:
            return False
        return True

    def proxy_admin_url(self) -> str | None:
        """The proxy's admin URL (routes, stats, metrics), when it runs."""
        row = self._proxy_row()
        return row.admin_url if row is not None and processes.alive(row.pid) else None

    def ensure_router(self) -> str:
        """Adopt the running proxy or start one on the public port."""
        if self.proxy_running():
            return self.public_url
        base = f"proxy-{_slug(self.service)}-{_slug(self.environment)}"
        info = start_proxy(
            f"127.0.0.1:{self.public_port}",
            self.state_dir / f"{base}.json",
            self.state_dir / "logs" / f"{base}.log",
        )
        with self.db.session() as s:
            inventory.save_proxy(session=s, row=Proxy(
                service=self.service, environment=self.environment, host=socket.gethostname(),
                pid=info.pid, listen=info.listen, admin_url=info.admin_url, started_at=now(),
            ))
        return self.public_url

    def stop_router(self) -> None:
        """Stop the proxy; the public port stops answering."""
        row = self._proxy_row()
        if row is not None:
            stop_proxy(row.pid, timeout=10.0)
            with self.db.session() as s:
                inventory.forget_proxy(session=s, service=self.service,
                                       environment=self.environment)

    # -- maintenance -------------------------------------------------------------------------

    def set_maintenance(self, message: str | None) -> None:
        """Answer every public request 503 with ``message``, or forward traffic again (None).

        The proxy is started first when it does not run: it keeps maintenance in its state
        file, so turning it off must reach the proxy that would resume it. Requests already
        forwarded finish normally.
        """
        if message is not None:
            try:
                check_message(message)
            except ValueError as exc:
                raise UsageError(f"maintenance {exc}") from None
        self.ensure_router()
        with self._client() as client:
            if message is None:
                client.clear_maintenance()
            else:
                client.set_maintenance(message)
        state = "on" if message is not None else "off"
        log.info("maintenance %s for %s in %s", state, self.service, self.environment)

    def maintenance(self) -> dict[str, Any] | None:
        """``{"message", "since"}`` while the public port answers maintenance, else ``None``.

        ``None`` too when the proxy does not run (nothing answers the public port).
        """
        if not self.proxy_running():
            return None
        with self._client() as client:
            return client.maintenance()

    # -- instances ---------------------------------------------------------------------------

    def _instance_id(self, version: str, replica: int) -> str:
        """``service.environment.version.replica``; a long version is shortened with a hash
        so the id fits the store's column (80)."""
        slug = _slug(version)
        if len(slug) > 40:
            slug = f"{slug[:27]}-{hashlib.sha256(version.encode()).hexdigest()[:12]}"
        return f"{self.service}.{self.environment}.{slug}.{replica}"

    def _log_path(self, version: str, replica: int) -> Path:
        name = f"{_slug(self.service)}-{_slug(self.environment)}-{_slug(version)}-{replica}.log"
        return self.state_dir / "logs" / name

    @staticmethod
    def _info(row: Instance) -> InstanceInfo:
        return InstanceInfo(row.id, row.version, row.replica, row.pid, row.port,
                            processes.alive(row.pid, row.pid_started))

    def instances(self, version: str | None = None) -> list[InstanceInfo]:
        """Recorded instances, re-checked for liveness."""
        with self.db.session() as s:
            rows = inventory.instances(session=s, service=self.service,
                                       environment=self.environment, version=version)
            return [self._info(r) for r in rows]

    def service_env(self) -> dict[str, str]:
        """The service's extra environment, ``${NAME}`` references filled from rollgate's own.

        Secrets belong in the environment, not in the spec: the spec (and the snapshot each
        run keeps of it) then holds only the reference.
        """
        where = f"services.{self.service}.env"
        return {key: fill_refs(value, where) for key, value in self.svc.env.items()}

    def command_for(self, version: str, port: int) -> list[str]:
        """The argv of one instance, from the spec's command template."""
        text = self.svc.command.replace("{python}", shlex.quote(sys.executable))
        text = text.replace("{port}", str(port)).replace("{version}", version)
        return shlex.split(text)

    def start(self, version: str, replica: int, run_id: str | None) -> InstanceInfo:
        """Start one replica of a version, or adopt it when it already runs."""
        iid = self._instance_id(version, replica)
        with self.db.session() as s:
            row = s.get(Instance, iid)
            if row is not None and processes.alive(row.pid, row.pid_started):
                return self._info(row)
        port = processes.free_port()
        env = {
            **os.environ,
            **self.service_env(),
            "ROLLGATE_SERVICE": self.service,
            "ROLLGATE_ENVIRONMENT": self.environment,
            "ROLLGATE_VERSION": version,
            "ROLLGATE_PORT": str(port),
        }
        cwd = (self.spec_dir / self.svc.workdir) if self.svc.workdir else self.spec_dir
        argv = self.command_for(version, port)
        try:
            pid, started = processes.spawn(argv, env=env, cwd=cwd,
                                           log=self._log_path(version, replica))
        except OSError as exc:
            raise TargetError(
                f"cannot start {self.service} {version}: {argv[0]}: {exc.strerror}; "
                f"check services.{self.service}.command in the spec"
            ) from exc
        row = Instance(
            id=iid, service=self.service, environment=self.environment, version=version,
            replica=replica, host=socket.gethostname(), pid=pid, pid_started=started,
            port=port, state="starting", run_id=run_id, started_at=now(), retire_at=None,
        )
        with self.db.session() as s:
            inventory.save_instance(session=s, instance=row)
        return self._info(row)

    def wait_ready(self, instance: InstanceInfo, should_stop: Callable[[], bool]) -> str:
        """Wait for an instance's health check; raise TargetError with its log when it fails."""
        with self.db.session() as s:
            row = s.get(Instance, instance.id)
            started = row.pid_started if row else 0.0
        ok, detail, attempts = wait_healthy(
            instance.url, self.svc.health,
            alive=lambda: processes.alive(instance.pid, started),
            should_stop=should_stop,
        )
        if not ok:
            logs = processes.tail(self._log_path(instance.version, instance.replica))
            code = processes.exit_code(instance.pid)
            exited = f" (exit code {code})" if code is not None else ""
            raise TargetError(
                f"{self.service} {instance.version} replica {instance.replica} failed its "
                f"health check on {self.svc.health.path}: {detail}{exited}",
                details=f"last log lines of {instance.id}:\n{logs}" if logs else None,
            )
        with self.db.session() as s:
            row = s.get(Instance, instance.id)
            if row is not None:
                row.state = "running"
        return f"{instance.version}#{instance.replica} healthy after {attempts} probe(s): {detail}"

    def stop(self, instance_id: str) -> None:
        """Stop an instance (SIGTERM, then SIGKILL after the stop timeout) and forget it."""
        with self.db.session() as s:
            row = s.get(Instance, instance_id)
            if row is None:
                return
            pid, started = row.pid, row.pid_started
        processes.terminate(pid, started, self.svc.stop_timeout)
        with self.db.session() as s:
            inventory.forget_instance(session=s, instance_id=instance_id)

    # -- traffic -----------------------------------------------------------------------------

    def route(self, weights: dict[str, int]) -> None:
        """Send traffic to instances by weight (instance id -> weight)."""
        with self.db.session() as s:
            rows = {r.id: r for r in inventory.instances(
                session=s, service=self.service, environment=self.environment)}
        backends = []
        for iid, weight in weights.items():
            row = rows.get(iid)
            if row is None:
                raise TargetError(f"instance {iid} is not running; cannot route to it")
            backends.append(Backend(row.version, f"http://127.0.0.1:{row.port}", weight))
        self._client().set_routes(backends)

    def weights(self) -> dict[str, int]:
        """Current share of traffic per version, in percent."""
        try:
            backends = self._client().routes()
        except TargetError:
            return {}
        total = sum(b.weight for b in backends)
        shares: dict[str, int] = {}
        for b in backends:
            shares[b.version] = shares.get(b.version, 0) + b.weight
        return {v: round(100 * w / total) if total else 0 for v, w in shares.items()}
