"""The rollgate.yaml model: project, services, environments, checks, analyses."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from rollgate.spec.analysis import Analysis
from rollgate.spec.base import NAME, Model, Name
from rollgate.spec.checklists import PHASES, Checklists
from rollgate.spec.checks import Check, CheckConfig, CommandCheck, HttpCheck
from rollgate.spec.data import Database
from rollgate.spec.durations import Duration
from rollgate.spec.incidents import IncidentPolicy
from rollgate.spec.metrics import BuiltinMetrics, MetricsConfig
from rollgate.spec.notify import Notifications, StatusPage
from rollgate.spec.promotion import Promotion
from rollgate.spec.quality import QualityGate
from rollgate.spec.windows import DeployWindows, Freeze

__all__ = ["NAME", "Check", "CheckConfig", "CommandCheck", "HttpCheck", "Model", "Name"]


class HealthCheck(Model):
    """An HTTP health check against one instance of a service."""

    path: str = Field("/health", description="path requested on the instance")
    expect_status: int = Field(200, ge=100, le=599, description="expected HTTP status")
    expect_json: dict[str, Any] | None = Field(
        None, description='a JSON subset the body must contain, e.g. {"status": "ok"}'
    )
    timeout: Duration = Field(2.0, description="timeout of one request")
    interval: Duration = Field(0.5, description="time between two attempts")
    retries: int = Field(
        60, ge=1, description="attempts while waiting for a new instance to become ready"
    )
    failure_threshold: int = Field(
        3, ge=1, description="consecutive failures that make a ready instance unhealthy"
    )
    success_threshold: int = Field(1, ge=1, description="consecutive successes that mean ready")


class Service(Model):
    """A deployable unit and how the local target runs one version of it."""

    command: str = Field(
        description="command template starting one instance; {python}, {port} and {version} "
        "are substituted"
    )
    port: int = Field(ge=1, le=65535, description="public port the proxy serves")
    replicas: int = Field(1, ge=1, le=64, description="instances per version")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment")
    workdir: str | None = Field(None, description="working directory (relative to the spec)")
    health: HealthCheck = Field(
        default_factory=HealthCheck, description="how readiness and health are checked"
    )
    stop_timeout: Duration = Field(10.0, description="grace period after SIGTERM")
    checks: list[Name] = Field(
        default_factory=list, description="names of checks run after each deploy"
    )
    database: Name | None = Field(
        None, description="the database (from `databases`) this service migrates and restores"
    )


class RecreateStrategy(Model):
    """Stop the old version, then start the new one (downtime)."""

    kind: Literal["recreate"] = Field(description="selects this strategy")


class RollingStrategy(Model):
    """Replace replicas one at a time, each checked before the next."""

    kind: Literal["rolling"] = Field(description="selects this strategy")
    pause: Duration = Field(0.0, description="wait between two replicas")


class Watch(Model):
    """Keep analysing the new version for a while after it took all the traffic."""

    duration: Duration = Field(description="how long to watch after the switch (seed 004: 15m)")
    analysis: Name = Field(description="the analysis (from `analyses`) run while watching")


class BlueGreenStrategy(Model):
    """Start green beside blue, check it, switch traffic, keep blue warm."""

    kind: Literal["blue-green"] = Field(description="selects this strategy")
    verify: Duration = Field(0.0, description="keep checking green this long before the switch")
    analysis: Name | None = Field(
        None,
        description="judge green against blue during `verify`, before the switch, on probe "
        "traffic rollgate sends to both (green serves no users yet)",
    )
    probe_path: str = Field("/", description="path of the probe requests of `analysis`")
    probe_rate: float = Field(
        20.0, gt=0, le=1000, description="probe requests per second to each of blue and green"
    )
    keep_warm: Duration = Field(
        600.0, description="keep blue running this long after the switch for instant rollback"
    )
    watch: Watch | None = Field(
        None, description="analysis after the switch; a failure switches back to blue"
    )

    @model_validator(mode="after")
    def _analysis_needs_verify(self) -> BlueGreenStrategy:
        if self.analysis and not self.verify:
            raise PydanticCustomError(
                "analysis_without_verify",
                "analysis runs during verify: give verify a duration, e.g. verify: 1m",
            )
        return self


class CanaryWeight(Model):
    """Send this share of traffic (percent) to the new version."""

    weight: int = Field(ge=0, le=100, description="percent of traffic to the new version")


class CanaryPause(Model):
    """Hold the current weight for a duration, or until someone approves."""

    pause: Duration | Literal["approval"] = Field(
        description="how long to hold before the next step, or `approval` to wait for "
        "`rollgate approve RUN`"
    )
    timeout: Duration | None = Field(
        None, description="with `approval`: give up (and roll back) after this long"
    )


class CanaryAnalysis(Model):
    """Run an analysis at the current weight; a failing verdict rolls back."""

    analysis: Name = Field(description="the analysis (from `analyses`) to run")
    duration: Duration = Field(60.0, description="how long the analysis runs at this weight")


_STEP_KEYS = {"weight": "CanaryWeight", "pause": "CanaryPause", "analysis": "CanaryAnalysis"}


def _canary_step_tag(value: Any) -> str | None:
    """Pick the step model from its key, so errors name one model, not all of them."""
    if isinstance(value, CanaryWeight | CanaryPause | CanaryAnalysis):
        return type(value).__name__
    if isinstance(value, dict) and len(value.keys() & _STEP_KEYS.keys()) == 1:
        return _STEP_KEYS[next(iter(value.keys() & _STEP_KEYS.keys()))]
    return None


CanaryStep = Annotated[
    Annotated[CanaryWeight, Tag("CanaryWeight")]
    | Annotated[CanaryPause, Tag("CanaryPause")]
    | Annotated[CanaryAnalysis, Tag("CanaryAnalysis")],
    Discriminator(
        _canary_step_tag,
        custom_error_type="canary_step",
        custom_error_message="must be a mapping with exactly one of weight, pause or analysis",
    ),
]


class CanaryStrategy(Model):
    """Shift traffic in steps (10% -> 50% -> 100%), checking health at each."""

    kind: Literal["canary"] = Field(description="selects this strategy")
    steps: list[CanaryStep] = Field(
        min_length=1, description="weight, pause and analysis steps, in order"
    )
    analysis: Name | None = Field(
        None, description="background analysis running through every pause of the rollout"
    )
    watch: Watch | None = Field(
        None, description="analysis after promotion to 100%; a failure rolls back"
    )


Strategy = Annotated[
    RecreateStrategy | RollingStrategy | BlueGreenStrategy | CanaryStrategy,
    Field(discriminator="kind"),
]


class Policies(Model):
    """What rollgate does on its own in an environment."""

    auto_rollback: bool = Field(
        True, description="roll back by itself when a check fails after traffic moved"
    )
    require_reason: bool = Field(True, description="rollbacks must give a reason")
    strict_checklists: bool = Field(
        False, description="checklist warnings are failures here (as with --strict)")
    major_notice: Duration = Field(
        72 * 3600.0, description="how long before its maintenance a major change "
        "(`deploy --major`) must have been announced (`rollgate notice post`)")


class Approvals(Model):
    """Approvals a deploy needs, from people other than the one who asked for it."""

    required: int = Field(1, ge=1, le=10, description="how many different approvers")
    timeout: Duration = Field(86400.0, description="how long the run waits for them; then "
                              "it fails without touching anything")


class Environment(Model):
    """Where and how services are deployed."""

    target: Literal["local"] = Field("local", description="driver that runs versions")
    strategy: Strategy = Field(
        default_factory=lambda: RecreateStrategy(kind="recreate"),
        description="how a new version replaces the live one",
    )
    ports: dict[Name, Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=dict, description="public port per service, overriding service.port"
    )
    policies: Policies = Field(
        default_factory=Policies, description="what rollgate does on its own here"
    )
    metrics: MetricsConfig = Field(
        default_factory=lambda: BuiltinMetrics(kind="builtin"),
        description="where analyses read requests, errors and latency per version",
    )
    checks: list[Name] = Field(
        default_factory=list, description="names of checks run after each deploy here"
    )
    databases: dict[Name, str] = Field(
        default_factory=dict,
        description="connection URL per database here, overriding databases.NAME.url "
        "(${NAME} is read from the environment)",
    )
    windows: DeployWindows | None = Field(
        None, description="when deploys may start here (none: any time); outside them a "
        "deploy is refused with the next opening, or waits for it with --wait")
    approvals: Approvals | None = Field(
        None, description="approvals a deploy here needs before it starts")
    quality_gate: Name | None = Field(
        None, description="a quality gate (`quality_gates`) the version must have passed "
        "(decision DEPLOY, recorded by `rollgate gate NAME --service S --version V`)")


class Spec(Model):
    """A rollgate.yaml file."""

    version: Literal[1] = Field(1, description="spec format version")
    project: Name = Field(description="project name")
    services: dict[Name, Service] = Field(min_length=1, description="services by name")
    environments: dict[Name, Environment] = Field(min_length=1, description="environments by name")
    checks: dict[Name, Check] = Field(
        default_factory=dict, description="named checks that services and environments use"
    )
    analyses: dict[Name, Analysis] = Field(
        default_factory=dict,
        description="named analyses that canary steps, `analysis:` and `watch:` refer to",
    )
    databases: dict[Name, Database] = Field(
        default_factory=dict, description="databases services use: backups and migrations"
    )
    quality_gates: dict[Name, QualityGate] = Field(
        default_factory=dict, description="quality gates: weighted objectives scored from "
        "test reports and values; `rollgate gate NAME` decides DEPLOY, REMEDIATE or BLOCK")
    checklists: Checklists = Field(
        default_factory=Checklists, description="pre-deploy, post-deploy and post-incident "
        "checklists: automated checks and confirmations by a named person")
    promotion: Promotion = Field(
        default_factory=Promotion, description="git tags and release notes when versions "
        "go live and are promoted (`rollgate promote`)")
    incidents: IncidentPolicy = Field(
        default_factory=IncidentPolicy, description="incident response: the severity policy, "
        "on-call and escalation, alert intake, incidents on automatic rollback, message "
        "templates and playbooks")
    freezes: list[Freeze] = Field(
        default_factory=list, description="periods when deploys are refused, by environment "
        "and service (an emergency deploy with a reason and an approver overrides)")
    notifications: Notifications = Field(
        default_factory=Notifications, description="where messages go: Slack, webhooks, "
        "PagerDuty and e-mail channels, routes by event, environment and severity, quiet "
        "hours, and delivery retries")
    status_page: StatusPage = Field(
        default_factory=StatusPage, description="the public status page served at /status")

    @model_validator(mode="after")
    def _references_exist(self) -> Spec:
        """Raise one ``unknown_reference`` error, a ``dotted.path: message`` line per problem."""
        problems: list[str] = []
        for svc_name, svc in self.services.items():
            problems += _unknown(f"services.{svc_name}.checks", svc.checks, self.checks, "check")
            if svc.database and svc.database not in self.databases:
                hint = _unknown_name(svc.database, self.databases, "database")
                problems.append(f"services.{svc_name}.database: {hint}")
        for env_name, env in self.environments.items():
            where = f"environments.{env_name}"
            problems += _unknown(f"{where}.checks", env.checks, self.checks, "check")
            for port_svc in env.ports:
                if port_svc not in self.services:
                    hint = _unknown_name(port_svc, self.services, "service")
                    problems.append(f"{where}.ports.{port_svc}: {hint}")
            if env.quality_gate and env.quality_gate not in self.quality_gates:
                hint = _unknown_name(env.quality_gate, self.quality_gates, "quality gate")
                problems.append(f"{where}.quality_gate: {hint}")
            for db_name in env.databases:
                if db_name not in self.databases:
                    hint = _unknown_name(db_name, self.databases, "database")
                    problems.append(f"{where}.databases.{db_name}: {hint}")
            for path, name in _analysis_refs(env.strategy):
                if name not in self.analyses:
                    hint = _unknown_name(name, self.analyses, "analysis")
                    problems.append(f"{where}.strategy.{path}: {hint}")
        for phase in PHASES:
            for i, item in enumerate(self.checklists.items(phase)):
                where = f"checklists.{phase}[{i}]"
                if item.check and item.check not in self.checks:
                    problems.append(f"{where}.check: "
                                    f"{_unknown_name(item.check, self.checks, 'check')}")
                problems += _unknown(f"{where}.environments", item.environments,
                                     self.environments, "environment")
                problems += _unknown(f"{where}.services", item.services, self.services,
                                     "service")
        for env_name in self.promotion.tags:
            if env_name not in self.environments:
                hint = _unknown_name(env_name, self.environments, "environment")
                problems.append(f"promotion.tags.{env_name}: {hint}")
        for i, freeze in enumerate(self.freezes):
            problems += _unknown(f"freezes[{i}].environments", freeze.environments,
                                 self.environments, "environment")
            problems += _unknown(f"freezes[{i}].services", freeze.services, self.services,
                                 "service")
        problems += self._notify_references()
        if problems:
            raise PydanticCustomError("unknown_reference", "\n".join(problems))
        return self

    def _notify_references(self) -> list[str]:
        """Environments, services and levels the notification routes and the status page
        name must exist."""
        problems: list[str] = []
        levels = [lvl.name for lvl in self.incidents.severity_policy().levels]

        def level(where: str, name: str | None) -> None:
            if name is not None and name not in levels:
                problems.append(f"{where}: {_unknown_name(name, levels, 'level')}")

        for i, route in enumerate(self.notifications.routes):
            where = f"notifications.routes[{i}]"
            problems += _unknown(f"{where}.environments", route.environments or [],
                                 self.environments, "environment")
            problems += _unknown(f"{where}.services", route.services or [], self.services,
                                 "service")
            problems += _unknown(f"{where}.channels", route.channels,
                                 self.notifications.channels, "channel")
            level(f"{where}.min_severity", route.min_severity)
            if route.quiet_hours:
                level(f"{where}.quiet_hours.unless", route.quiet_hours.unless)
        page = self.status_page
        if page.environment is not None and page.environment not in self.environments:
            hint = _unknown_name(page.environment, self.environments, "environment")
            problems.append(f"status_page.environment: {hint}")
        problems += [f"status_page.components.{name}: "
                     f"{_unknown_name(name, self.services, 'service')}"
                     for name in page.components if name not in self.services]
        for name in page.states:
            level(f"status_page.states.{name}", name)
        return problems

    def status_environment(self) -> str:
        """The environment the status page shows: the one named, else ``production``, else
        the last one listed."""
        page = self.status_page.environment
        if page is not None:
            return page
        return "production" if "production" in self.environments else list(self.environments)[-1]

    def database_url(self, database: str, environment: str) -> str | None:
        """The connection URL of ``database`` in ``environment`` (``${NAME}`` not filled)."""
        return self.environments[environment].databases.get(
            database, self.databases[database].url)

    def public_port(self, service: str, environment: str) -> int:
        """The port users reach ``service`` on in ``environment``."""
        return self.environments[environment].ports.get(service, self.services[service].port)


def _analysis_refs(strategy: object) -> list[tuple[str, str]]:
    """(path inside the strategy, analysis name) of every analysis a strategy names."""
    refs: list[tuple[str, str]] = []
    if isinstance(strategy, CanaryStrategy):
        refs += [(f"steps[{i}].analysis", step.analysis) for i, step in
                 enumerate(strategy.steps) if isinstance(step, CanaryAnalysis)]
        if strategy.analysis:
            refs.append(("analysis", strategy.analysis))
    if isinstance(strategy, BlueGreenStrategy) and strategy.analysis:
        refs.append(("analysis", strategy.analysis))
    watch = getattr(strategy, "watch", None)
    if isinstance(watch, Watch):
        refs.append(("watch.analysis", watch.analysis))
    return refs


def _unknown(path: str, names: list[str], known: Collection[str], what: str) -> list[str]:
    """One ``path[i]: unknown ...`` line per name in ``names`` that is not ``known``."""
    return [
        f"{path}[{i}]: {_unknown_name(name, known, what)}"
        for i, name in enumerate(names)
        if name not in known
    ]


def _unknown_name(name: str, known: Collection[str], what: str) -> str:
    """Say ``name`` is unknown, suggesting the closest known one."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"defined: {', '.join(known) or 'none'}"
    return f"unknown {what} {name!r} ({hint})"
