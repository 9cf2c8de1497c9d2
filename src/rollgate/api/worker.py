"""The server's background workers: one takes over orphaned runs, fires incident reminders,
escalations and maintenance events that are due, and retires expired warm instances; the
other routes and delivers notifications (every tenth of a second, so a message goes out
within a moment of its event)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from rollgate.engine.actions import retire_due
from rollgate.engine.runtime import Runtime
from rollgate.incidents import timers
from rollgate.notify import maintenance, outbox
from rollgate.runs import service
from rollgate.runs.service import Project
from rollgate.store import runs as run_store
from rollgate.store.runs import now

log = logging.getLogger(__name__)

INTERVAL = 2.0


class _Background:
    """A daemon thread over the runtime and the spec, running ``_loop`` until stopped; the
    first pass runs at once."""

    name = "rollgate-background"

    def __init__(self, rt: Runtime, project_loader: Callable[[], Project],
                 interval: float) -> None:
        self.rt = rt
        self.project_loader = project_loader
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for the pass in progress to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        raise NotImplementedError


class Worker(_Background):
    """A thread that runs :meth:`run_once` every ``interval`` seconds until stopped."""

    name = "rollgate-worker"

    def __init__(self, rt: Runtime, project_loader: Callable[[], Project],
                 interval: float = INTERVAL) -> None:
        super().__init__(rt, project_loader, interval)

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
            at = now()
            written = timers.tick(session=s, policy=project.spec.incidents, at=at)
            notices = maintenance.tick(
                s, project.spec.notifications.maintenance_reminders, at)
        for event in written:  # after the commit: only what was written is logged
            log.info("incident %s: %s %s", event.incident_id, event.kind, event.text)
        for notice in notices:
            log.info("%s", notice.subject)
        return len(written) + len(notices)

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


NOTIFY_INTERVAL = 0.1  # an idle pass is one indexed query
SPEC_TTL = 5.0  # the delivery loop reads the spec again this often


class NotifyWorker(_Background):
    """A thread that routes new events and delivers due notifications until stopped (a stop
    waits for the attempts in flight to be recorded)."""

    name = "rollgate-notify"

    def __init__(self, rt: Runtime, project_loader: Callable[[], Project],
                 interval: float = NOTIFY_INTERVAL) -> None:
        super().__init__(rt, project_loader, interval)
        self._project: Project | None = None
        self._loaded_at = 0.0

    def _spec_project(self) -> Project:
        if self._project is None or time.monotonic() - self._loaded_at > SPEC_TTL:
            self._project = self.project_loader()
            self._loaded_at = time.monotonic()
        return self._project

    def _loop(self) -> None:
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.is_set():
                busy = self.run_once(client)
                if not busy:
                    self._stop.wait(self.interval)

    def run_once(self, client: httpx.Client) -> bool:
        """One pass; True when it sent something (the next pass follows at once)."""
        try:
            project = self._spec_project()
            done = outbox.run_pass(self.rt.db, project.spec, worker=self.rt.executor_id,
                                   client=client)
        except Exception:  # this thread must outlive any one bad pass
            log.exception("delivering notifications failed; retrying in %.2fs", self.interval)
            self._stop.wait(1.0)
            return False
        if done.dead:
            log.warning("%d notification(s) dead-lettered: `rollgate notifications list "
                        "--failed`", done.dead)
        return done.total > 0
