"""How incidents are run, in the spec: the severity policy, the on-call rotation and the
escalation chain, alert intake, incidents opened by automatic rollbacks, message templates
and playbooks. Everything has a default, so a spec without ``incidents:`` runs seed 000's
flow.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rollgate.spec.base import Model, Name
from rollgate.spec.durations import Duration
from rollgate.spec.severity import PRESETS, SeverityPolicy, preset
from rollgate.spec.windows import check_zone

ROLES = ("commander", "ops", "app", "comms", "scribe")
ROLE_TITLES = {"commander": "Incident Commander", "ops": "Ops lead", "app": "App lead",
               "comms": "Comms", "scribe": "Scribe"}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Override(Model):
    """Someone else on call for a while (holidays, swaps)."""

    person: str = Field(min_length=1, max_length=128)
    start: datetime = Field(description="from (ISO time; no offset: the rotation's time zone)")
    end: datetime = Field(description="until (same form)")

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise ValueError("end must come after start")
        return self


class OnCall(Model):
    """A rotation: people take turns, handing over at a fixed local time."""

    people: list[str] = Field(min_length=1, description="the rotation, in order")
    timezone: str = Field("UTC", description="time zone of the hand-off time")
    start: date = Field(description="the day the first person's first turn begins")
    handoff: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                         description="local hand-off time, HH:MM")
    every: Duration = Field(7 * 86400.0, gt=0, description="length of a turn (7d: weekly)")
    overrides: list[Override] = Field(default_factory=list,
                                      description="someone else on call for a while")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)


class EscalationStep(Model):
    """Who is paged at this step of the chain: the on-call person or a named one."""

    title: str = Field(min_length=1, max_length=60, examples=["On-call", "Ops lead", "CTO"])
    person: str = Field("oncall", min_length=1, max_length=128,
                        description="a person, or `oncall` for whoever the rotation names")


class AutoIncident(Model):
    """Incidents that rollgate opens by itself when it rolls a release back."""

    open: bool = Field(True, description="open an incident on an automatic rollback")
    level: str | None = Field(None, description="its severity level (none: the least severe; "
                              "the rollback already mitigated it)")
    environments: list[Name] | None = Field(
        None, description="only in these environments (none: every one)")


class AlertIntake(Model):
    """Alertmanager webhooks (``POST /api/alerts/alertmanager``): who may send, and how labels
    map to an incident."""

    token: str | None = Field(None, description="bearer token Alertmanager sends "
                              "(`${NAME}` from the environment); a rollgate API token with the "
                              "deployer role works too")
    hmac_secret: str | None = Field(None, description="shared secret: the body's HMAC-SHA256 "
                                    "in `X-Rollgate-Signature: sha256=<hex>` authenticates")
    severity_label: str = Field("severity", description="the label that carries severity")
    levels: dict[str, str] = Field(
        default_factory=lambda: {"critical": "0", "page": "0", "high": "1", "error": "1",
                                 "warning": "2", "info": "-1"},
        description="severity label value -> level name, or a level's position as a string "
        "('0' most severe, '-1' least)")
    service_label: str = Field("service", description="the label naming the service")
    environment_label: str = Field("environment", description="the label naming the "
                                   "environment")
    on_resolved: Literal["resolve", "note"] = Field(
        "resolve", description="when every alert of the group resolves: resolve the incident, "
        "or only note it on the timeline for a person to resolve")


class Playbook(Model):
    """What to do when an incident of a kind opens (seed 000 §4)."""

    title: str = Field(min_length=1, max_length=120)
    symptoms: list[str] = Field(default_factory=list)
    actions: list[str] = Field(min_length=1, description="suggested actions, in order")
    keywords: list[str] = Field(default_factory=list, description="words in a title or an "
                                "alert name that suggest this playbook")


# The names a message template can use; rollgate.incidents.comms fills every one.
TEMPLATE_NAMES = frozenset({
    "kind", "id", "title", "channel", "status", "level", "level_title", "service",
    "environment", "where", "impact", "started", "opened", "updated", "resolved", "downtime",
    "roles", "commander", "current", "actions", "next_steps", "eta", "next_update",
    "root_cause", "links", "postmortem_due", "action_items"})


class Templates(Model):
    """Jinja2 templates of the messages (none: the built-in ones, in the seeds' formats)."""

    initial: str | None = None
    update: str | None = None
    resolution: str | None = None

    @field_validator("initial", "update", "resolution")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        """Compile the template at load time: a typo fails `rollgate validate`, not the
        first message of an incident."""
        if value is None:
            return value
        from jinja2 import StrictUndefined, TemplateSyntaxError, meta  # only when given
        from jinja2.sandbox import SandboxedEnvironment

        env = SandboxedEnvironment(undefined=StrictUndefined)
        try:
            tree = env.parse(value)
            env.compile(tree)
        except TemplateSyntaxError as exc:
            raise ValueError(f"template line {exc.lineno}: {exc.message}") from None
        unknown = sorted(meta.find_undeclared_variables(tree) - TEMPLATE_NAMES)
        if unknown:
            close = difflib.get_close_matches(unknown[0], TEMPLATE_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown name {unknown[0]!r}{hint}; a template can use "
                             f"{', '.join(sorted(TEMPLATE_NAMES))}")
        return value


def _seed_playbooks() -> dict[str, Playbook]:
    """Seed 000 §4: provider outages."""
    return {
        "email-provider": Playbook(
            title="Email provider outage",
            symptoms=["increased bounce/timeout", "5xx from the provider's API"],
            actions=["switch to in-app inbox only", "queue emails", "reduce send rate",
                     "show a banner in the UI for campaign delays"],
            keywords=["email", "smtp", "brevo", "bounce"]),
        "sms-provider": Playbook(
            title="SMS/WhatsApp provider outage",
            symptoms=["OTP failures", "send errors"],
            actions=["prefer TOTP", "degrade to email + in-app notice", "enforce a longer OTP "
                     "TTL", "set cost guardrails to zero to prevent spend"],
            keywords=["sms", "whatsapp", "otp", "infobip"]),
        "billing-provider": Playbook(
            title="Billing provider outage",
            symptoms=["checkout/portal failure"],
            actions=["grace period on seat checks", "queue billing events",
                     "disable the plan change UI temporarily"],
            keywords=["billing", "stripe", "checkout", "payment"]),
    }


class IncidentPolicy(Model):
    """How incidents are run."""

    severity: str | SeverityPolicy = Field(
        "sev0-3", description=f"a preset ({', '.join(PRESETS)}) or a policy of your own")
    channel_prefix: str = Field("#inc-", max_length=20, description="incident channels are "
                                "named this plus the opening time: #inc-20250104-1430")
    oncall: OnCall | None = Field(None, description="the on-call rotation (who `oncall` is)")
    escalation: list[EscalationStep] = Field(
        default_factory=lambda: [EscalationStep(title="On-call"),
                                 EscalationStep(title="Ops lead", person="ops-lead"),
                                 EscalationStep(title="CTO", person="cto")],
        min_length=1, description="who is paged, in order: an unacknowledged page moves to "
        "the next step after the level's response time (seed 000: on-call -> Ops lead -> CTO)")
    on_rollback: AutoIncident = Field(default_factory=AutoIncident,
                                      description="incidents opened by automatic rollbacks")
    alerts: AlertIntake = Field(default_factory=AlertIntake,
                                description="Alertmanager webhook intake")
    templates: Templates = Field(default_factory=Templates,
                                 description="initial, update and resolution messages")
    playbooks: dict[Name, Playbook] = Field(
        default_factory=_seed_playbooks, description="incident kinds with suggested actions "
        "(default: seed 000's provider outages)")

    @field_validator("severity")
    @classmethod
    def _known_preset(cls, value: str | SeverityPolicy) -> str | SeverityPolicy:
        if isinstance(value, str) and value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; presets: {', '.join(PRESETS)}")
        return value

    @model_validator(mode="after")
    def _known_levels(self) -> IncidentPolicy:
        names = [lvl.name for lvl in self.severity_policy().levels]
        if self.on_rollback.level and self.on_rollback.level not in names:
            raise ValueError(f"on_rollback.level: unknown level {self.on_rollback.level!r}; "
                             f"the levels are {', '.join(names)}")
        for value, level in self.alerts.levels.items():
            if level not in names and not _position(level, len(names)):
                raise ValueError(f"alerts.levels.{value}: unknown level {level!r}; the levels "
                                 f"are {', '.join(names)} (or a position such as '0', '-1')")
        return self

    def severity_policy(self) -> SeverityPolicy:
        """The policy in force."""
        return preset(self.severity) if isinstance(self.severity, str) else self.severity


def _position(text: str, count: int) -> bool:
    try:
        return -count <= int(text) < count
    except ValueError:
        return False
