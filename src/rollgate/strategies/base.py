"""The strategy contract: a plan, and a pipeline of journaled steps strategies call."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rollgate.spec.durations import format_duration
from rollgate.spec.models import Spec

APPROVAL_STEP = "wait for approval"  # every approval step's name starts so
OTHERS_STEP = "wait for approval from others"  # an environment's approvals: four eyes

StepRunner = Callable[[int, str, str, dict[str, Any]], dict[str, Any]]
Sleeper = Callable[[float], None]
# Waits for a message on a topic for up to N seconds (None: timed out).
Receiver = Callable[[str, float], Any]


class StepFailed(Exception):
    """A step did not succeed; the workflow decides between discard and rollback."""

    def __init__(self, step: str, error: str, cancelled: bool = False) -> None:
        super().__init__(f"{step}: {error}")
        self.step = step
        self.error = error
        self.cancelled = cancelled


@dataclass(frozen=True)
class Plan:
    """What a run sets out to do, read once at its start."""

    run_id: str
    kind: str
    service: str
    environment: str
    version: str
    replicas: int
    live: str | None
    live_instances: list[str]
    checks: list[str]
    strategy: dict[str, Any]
    auto_rollback: bool
    # The service's database, when it has one (defaults keep older journaled plans readable).
    database: str | None = None
    migrations: bool = False
    backup_on_deploy: bool = False
    on_failure: str = "restore"
    maintenance_message: str = ""
    # The run's parameters: rollback scope and backup, --allow-destructive.
    params: dict[str, Any] = field(default_factory=dict)
    # The environment's approvals: how many other people, and for how long the run waits.
    approvals_required: int = 0
    approvals_timeout: float = 0.0
    requester: str = ""
    checklist: bool = False  # the environment has a pre-deploy checklist for the service
    git_tag: str | None = None  # the tag the version gets once live here (spec.promotion)

    @classmethod
    def build(cls, spec: Spec, *, run_id: str, kind: str, service: str, environment: str,
              version: str, live: str | None, live_instances: list[str],
              params: dict[str, Any] | None = None, requester: str = "") -> Plan:
        """The plan of a run of ``service`` in ``environment`` from the spec."""
        env, svc = spec.environments[environment], spec.services[service]
        database = spec.databases.get(svc.database) if svc.database else None
        migrations = database.migrations if database else None
        return cls(
            run_id=run_id, kind=kind, service=service, environment=environment,
            version=version, replicas=svc.replicas, live=live, live_instances=live_instances,
            checks=list(dict.fromkeys([*svc.checks, *env.checks])),
            strategy=env.strategy.model_dump(), auto_rollback=env.policies.auto_rollback,
            database=svc.database, migrations=migrations is not None,
            backup_on_deploy=bool(database and database.backup_on_deploy),
            on_failure=migrations.on_failure if migrations else "restore",
            maintenance_message=database.maintenance_message if database else "",
            params=dict(params or {}),
            approvals_required=env.approvals.required if env.approvals else 0,
            approvals_timeout=env.approvals.timeout if env.approvals else 0.0,
            requester=requester,
            checklist=any(i.applies(environment, service)
                          for i in spec.checklists.items("pre-deploy")),
            git_tag=(spec.promotion.tags[environment].replace("{version}", version)
                     if environment in spec.promotion.tags and spec.promotion.repo else None),
        )


class Pipeline:
    """Runs steps in order through the engine and remembers what the run has touched."""

    def __init__(self, plan: Plan, runner: StepRunner, sleeper: Sleeper,
                 receiver: Receiver | None = None) -> None:
        self.plan = plan
        self._runner = runner
        self._sleep = sleeper
        self._recv = receiver
        self.seq = 1  # step 1 is the plan itself
        self.cleanup = False  # set while discarding or rolling back: cancels don't stop it
        self.touched = False  # traffic moved or the live version was stopped
        self.live_stopped = False  # the live version's instances were stopped
        self.started: list[str] = []  # instances of the new version this run started
        self.backup_id: str | None = None  # the backup this run took before migrating
        self.migrated = False  # the database was migrated by this run

    def step(self, name: str, action: str, **kwargs: Any) -> dict[str, Any]:
        """Run one journaled step; raise StepFailed when it fails."""
        self.seq += 1
        result = self._runner(self.seq, name, action, kwargs)
        if not result.get("ok"):
            raise StepFailed(name, str(result.get("error")), bool(result.get("cancelled")))
        return result

    # -- building blocks used by the strategies ----------------------------------------------

    def start(self, version: str, replicas: list[int], label: str | None = None) -> list[str]:
        """Start replicas of a version."""
        count = f"{len(replicas)} replicas" if len(replicas) > 1 else f"replica {replicas[0]}"
        out = self.step(label or f"start {version} ({count})", "start", version=version,
                        replicas=replicas)
        ids = list(out["instances"])
        if version == self.plan.version:
            self.started += [i for i in ids if i not in self.started]
        return ids

    def ready(self, version: str, instances: list[str], label: str | None = None) -> None:
        """Wait for the health checks of instances."""
        self.step(label or f"health-check {version}", "ready", instances=instances)

    def verify(self, version: str, instances: list[str], seconds: float) -> None:
        """Watch instances' health for a while before moving traffic."""
        self.step(f"verify {version} for {format_duration(seconds)}", "verify",
                  instances=instances, seconds=seconds)

    def route(self, name: str, shares: dict[str, tuple[list[str], int]]) -> None:
        """Split traffic: version -> (its instances, percent)."""
        weights: dict[str, int] = {}
        for instances, percent in shares.values():
            for iid in instances:
                weights[iid] = percent * 1000 // max(len(instances), 1)
        self.touched = True
        self.step(name, "route", weights={k: v for k, v in weights.items() if v > 0})

    def stop(self, name: str, instances: list[str]) -> None:
        """Stop instances; stopping the live version counts as touching the service."""
        if not instances:
            return
        if set(instances) & set(self.plan.live_instances):
            self.touched = True
            self.live_stopped = True
        self.step(name, "stop", instances=instances)

    def checks(self) -> None:
        """Run the post-deploy checks of the service and environment, if any."""
        if self.plan.checks:
            self.step("post-deploy checks", "checks", names=self.plan.checks)

    def mark_live(self, version: str) -> None:
        """Record the version as live."""
        self.step(f"mark {version} live", "mark-live", version=version)

    def pause(self, seconds: float, label: str | None = None) -> None:
        """Hold for a while, durably: a restarted engine sleeps only what is left."""
        self.step(label or f"pause {format_duration(seconds)}", "hold", seconds=seconds)
        self._sleep(seconds)
        self._runner(self.seq, "", "release", {})

    def approval(self, timeout: float | None, label: str | None = None) -> dict[str, Any]:
        """Wait, durably, for `rollgate approve RUN`; fail when the timeout passes first."""
        limit = f" (up to {format_duration(timeout)})" if timeout else ""
        return self.approvals(1, timeout or 7 * 86400.0, label or f"wait for approval{limit}")[0]

    def approvals(self, required: int, timeout: float, label: str,
                  requester: str | None = None) -> list[dict[str, Any]]:
        """Wait, durably, for ``required`` approvals from different people (not
        ``requester``); fail at the first rejection or when ``timeout`` passes first."""
        self.step(label, "hold", seconds=timeout)
        if self._recv is None:
            raise RuntimeError("this pipeline cannot receive approvals")
        approved: dict[str, dict[str, Any]] = {}
        deadline = time.time() + timeout
        while len(approved) < required:
            message = self._recv("approval", max(deadline - time.time(), 0.0))
            if message is None:
                error = (f"{len(approved)} of {required} approval(s) within "
                         f"{format_duration(timeout)}")
                if len(approved) == 0 and required == 1:
                    error = f"no approval within {format_duration(timeout)}"
                self._runner(self.seq, "", "release", {"error": error})
                raise StepFailed(label, error)
            who = str(message.get("actor"))
            if message.get("decision") == "reject":
                error = f"rejected by {who}: {message.get('comment')}"
                self._runner(self.seq, "", "release", {"error": error})
                raise StepFailed(label, error)
            if who != requester:
                approved.setdefault(who, dict(message))
        notes = [who + (f": {m['comment']}" if m.get("comment") else "")
                 for who, m in approved.items()]
        self._runner(self.seq, "", "release", {"note": f"approved by {'; '.join(notes)}"})
        return list(approved.values())

    def analyze(self, analysis: str, seconds: float, label: str | None = None,
                probe_traffic: bool = False) -> None:
        """Run an analysis of the new version against the live one for a while.

        With ``probe_traffic``, both get rollgate's own probe requests (green before a switch).
        """
        out = self.step(label or f"analysis {analysis} for {format_duration(seconds)}",
                        "analyze", analysis=analysis, seconds=seconds,
                        canary=self.plan.version, baseline=self.plan.live,
                        probe_traffic=probe_traffic)
        if out.get("paused"):
            # inconclusive.action: pause — a person decides; no approval in time rolls back.
            self.approval(None, f"wait for approval (analysis {analysis} inconclusive)")

    def hold(self, seconds: float) -> None:
        """Hold at the current weight, analysing in the background when configured."""
        background = self.plan.strategy.get("analysis")
        if background:
            self.analyze(str(background), seconds,
                         f"pause {format_duration(seconds)} (analysis {background})")
        else:
            self.pause(seconds)
