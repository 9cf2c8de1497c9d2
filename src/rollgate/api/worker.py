"""The server's background worker: take over orphaned runs, fire incident reminders and
escalations that are due, retire expired warm instances."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from rollgate.engine.actions import retire_due
from rollgate.engine.runtime import Runtime
from rollgate.incidents import timers
from rollgate.runs import service
from rollgate.runs.service import Project
from rollgate.store import runs as run_store
from rollgate.store.runs import now

log = logging.getLogger(__name__)

INTERVAL = 2.0


class Worker:
    """A thread that runs :meth:`run_once` every ``interval`` seconds until stopped."""

    def __init__(self, rt: Runtime, project_loader: Callable[[], Project],
                 interval: float = INTERVAL) -> None:
        self.rt = rt
        self.project_loader = project_loader
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rollgate-worker", daemon=True)

    def start(self) -> None:
        """Start the thread; the first pass runs at once."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for the pass in progress to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def run_once(self) -> None:
        """One pass; each part's failure is logged and does not stop the others or the loop."""
        # Broad catches are deliberate: this thread must outlive any one bad pass.
        try:
            service.recover_orphans(self.rt)
        except Exception:
            log.exception("recovering orphaned runs failed; retrying in %.0fs", self.interval)
        try:
            project = self.project_loader()
        except Exception:
            log.exception("cannot load the spec; incident timers and warm instances wait "
                          "for the next pass")
            return
        try:
            self.remind(project)
        except Exception:
            log.exception("incident timers failed; retrying in %.0fs", self.interval)
        for env in project.spec.environments:
            for svc in project.spec.services:
                if self._stop.is_set():
                    return
                try:
                    self.retire(project, svc, env)
                except Exception:
                    log.exception("retiring warm instances of %s/%s failed", svc, env)

    def remind(self, project: Project) -> int:
        """Write the incident reminders and escalations due now (once each, whichever server
        passes first); return how many."""
        with self.rt.db.session() as s:
            written = timers.tick(session=s, policy=project.spec.incidents, at=now())
        for event in written:  # after the commit: only what was written is logged
            log.info("incident %s: %s %s", event.incident_id, event.kind, event.text)
        return len(written)

    def retire(self, project: Project, svc: str, env: str) -> list[str]:
        """Stop a target's expired warm instances, unless a run holds the target.

        A run may be adopting a warm version (a rollback to it); the run's own first step
        retires what is due, so skipping here loses nothing.
        """
        with self.rt.db.session() as s:
            if run_store.active_run_id(session=s, service=svc, environment=env):
                return []
        stopped = retire_due(project.target(self.rt, svc, env))
        if stopped:
            log.info("retired warm instance(s) of %s/%s: %s", svc, env, ", ".join(stopped))
        return stopped
