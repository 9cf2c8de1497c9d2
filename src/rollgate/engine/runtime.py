"""The process-wide runtime: settings, store, DBOS engine and the executor heartbeat."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from rollgate.engine.context import set_current
from rollgate.settings import Settings
from rollgate.store import executors
from rollgate.store.db import Database
from rollgate.store.runs import TERMINAL
from rollgate.store.tables import Run

log = logging.getLogger(__name__)

# Pinned, not derived from the source: an edit must not strand runs in flight.
# Bump only when a workflow's sequence of steps changes incompatibly.
ENGINE_VERSION = "rollgate-engine-1"

class Runtime:
    """Everything a process needs to read the store and, when started, drive runs."""

    def __init__(self, settings: Settings, kind: str = "cli") -> None:
        self.settings = settings
        self.kind = kind
        self.state_dir: Path = settings.resolved_state_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.resolved_database_url())
        self.db.migrate()
        self.executor_id = (
            f"{kind}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
        self._engine_started = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def start_engine(self) -> None:
        """Launch DBOS with a pinned version and a unique executor id; start heartbeats."""
        if self._engine_started:
            return
        from dbos import DBOS

        import rollgate.engine.workflow  # noqa: F401  (registers the workflows)

        DBOS(
            config={
                "name": "rollgate",
                "system_database_url": self.settings.engine_database_url(),
                "application_version": ENGINE_VERSION,
                "executor_id": self.executor_id,
                "log_level": "WARNING",
            }
        )
        set_current(self)
        with self.db.session() as s:
            executors.register(session=s, executor_id=self.executor_id, kind=self.kind)
        DBOS.launch()
        self._engine_started = True
        self._beat = threading.Thread(target=self._heartbeat, name="rollgate-heartbeat",
                                      daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval):
            try:
                with self.db.session() as s:
                    executors.beat(session=s, executor_id=self.executor_id)
            except Exception:  # a missed beat is retried; the next one may go through
                log.warning("heartbeat failed", exc_info=True)

    def driven_runs(self) -> list[str]:
        """Runs whose workflow this process is executing right now."""
        if not self._engine_started:
            return []
        from dbos import DBOS

        try:
            pending = DBOS.list_workflows(status="PENDING", executor_id=self.executor_id,
                                          load_input=False, load_output=False)
        except Exception:  # on the way out: a failure here must not skip closing the runtime
            log.warning("cannot list the runs this process drives", exc_info=True)
            return []
        return [str(w.workflow_id) for w in pending]

    def _unfinished_runs(self) -> list[str]:
        """Driven runs that have not ended; a run whose end is recorded gets a moment for its
        workflow to return (its final status lands just after the run's)."""
        deadline = time.monotonic() + 10.0
        pending = self.driven_runs()
        while pending and time.monotonic() < deadline:
            with self.db.session() as s:
                ended = [r for r in pending
                         if (row := s.get(Run, r)) is None or row.status in TERMINAL]
            if not ended:
                break
            time.sleep(0.05)
            pending = self.driven_runs()
        return pending

    def close(self) -> list[str]:
        """Stop the engine and forget this executor; return the runs left unfinished.

        Threads of those runs would go on to the end of their step (or of a durable pause
        of hours) and hold the interpreter's exit: callers use ``exit_abandoning``.
        """
        self._stop.set()
        driven = self._unfinished_runs()
        if self._engine_started:
            from dbos import DBOS

            DBOS.destroy(destroy_registry=False)
            with self.db.session() as s:
                executors.unregister(session=s, executor_id=self.executor_id)
            self._engine_started = False
            set_current(None)
        self.db.dispose()
        return driven


def exit_abandoning(runs: list[str], code: int) -> None:
    """Exit now, leaving unfinished ``runs`` to the next executor.

    Exiting is the crash rollgate is built for: steps are idempotent, and ``rollgate serve``
    or ``rollgate resume RUN`` continue each run from its interrupted step.
    """
    import sys

    log.warning("stopped driving %s; `rollgate resume RUN` or `rollgate serve` continues it",
                ", ".join(runs))
    sys.stderr.write(f"left {', '.join(runs)} unfinished; continue with "
                     f"`rollgate resume {runs[0]}` (or let `rollgate serve` take over)\n")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
