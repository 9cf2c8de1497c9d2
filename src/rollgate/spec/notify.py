"""Notifications and the public status page, in the spec: the channels messages go to, the
routes that pick channels by event, environment and severity (with quiet hours), how hard
delivery tries, and what the status page shows.

Secrets (webhook URLs, routing keys, passwords, signing secrets) are written as ``${NAME}``
and read from rollgate's environment when a message is sent: neither the spec snapshot nor
the outbox ever holds them.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from rollgate.spec.base import Model, Name
from rollgate.spec.durations import Duration
from rollgate.spec.windows import check_zone

# Every event rollgate emits; a route's ``events`` lists these or globs of them (``incident.*``).
EVENTS: dict[str, str] = {
    "run.started": "a deploy or rollback run started",
    "run.succeeded": "a run ended with its version live and healthy",
    "run.failed": "a run failed (refused, aborted, or its migration restored)",
    "run.rolled_back": "a run was rolled back (automatically, or by a rollback run)",
    "approval.needed": "a run waits for an approval",
    "incident.opened": "an incident was opened",
    "incident.updated": "an incident's status, level or notes changed",
    "incident.acknowledged": "a page was acknowledged",
    "incident.resolved": "an incident was resolved",
    "incident.reminder": "an incident update, status-page update or post-mortem is overdue",
    "incident.escalation": "an unacknowledged page went to the next step of the chain",
    "maintenance.scheduled": "maintenance was announced",
    "maintenance.reminder": "announced maintenance starts soon (7 days, 24 hours ahead)",
    "maintenance.started": "maintenance began",
    "maintenance.ended": "maintenance ended",
    "maintenance.cancelled": "announced maintenance was called off",
}

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


def _secret_ref(value: str | None) -> str | None:
    """Secrets must be ``${NAME}`` references, never literal values in the spec."""
    if value is not None and not value.startswith("${"):
        raise ValueError("write it as ${NAME} and export NAME in rollgate's environment: "
                         "a literal secret would be kept in every run's spec snapshot")
    return value


class SlackChannel(Model):
    """A Slack incoming webhook: Block Kit blocks with a plain-text fallback."""

    type: Literal["slack"]
    url: str = Field(description="the incoming webhook URL, `${NAME}` (it is a secret)")
    channel: str | None = Field(None, description="shown in messages, e.g. `#deployments`")

    _url = field_validator("url")(_secret_ref)


class WebhookChannel(Model):
    """Any HTTP endpoint: the event as JSON, signed with HMAC-SHA256 over
    ``timestamp.body`` (headers ``X-Rollgate-Timestamp`` and ``X-Rollgate-Signature``)."""

    type: Literal["webhook"]
    url: str = Field(description="where to POST (may be `${NAME}`)")
    secret: str | None = Field(None, description="signing secret, `${NAME}`")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="extra headers (values may be `${NAME}`)")

    _secret = field_validator("secret")(_secret_ref)


class PagerDutyChannel(Model):
    """PagerDuty Events API v2: incidents trigger, acknowledge and resolve one alert (dedup
    key per incident); runs become change events."""

    type: Literal["pagerduty"]
    routing_key: str = Field(description="the integration's routing key, `${NAME}`")
    url: str = Field("https://events.pagerduty.com",
                     description="Events API base URL (`/v2/enqueue`, `/v2/change/enqueue`)")
    source: str = Field("rollgate", max_length=255, description="the `source` of alerts")

    _key = field_validator("routing_key")(_secret_ref)


class EmailChannel(Model):
    """E-mail over SMTP, with STARTTLS (or TLS from the start) and authentication."""

    # ``from`` is the spec's word; runs keep a snapshot of the spec and read it back.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              serialize_by_alias=True)

    type: Literal["email"]
    host: str = Field(min_length=1, description="SMTP server")
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls: upgrade the connection (port 587); tls: TLS from "
        "the start (port 465); none: plain (a local relay only)")
    username: str | None = Field(None, description="login (may be `${NAME}`)")
    password: str | None = Field(None, description="password, `${NAME}`")
    sender: str = Field(min_length=3, alias="from", description="From: address")
    to: list[str] = Field(min_length=1, description="recipients")
    verify_tls: bool = Field(True, description="check the server's certificate")

    _password = field_validator("password")(_secret_ref)


Channel = Annotated[SlackChannel | WebhookChannel | PagerDutyChannel | EmailChannel,
                    Field(discriminator="type")]


class QuietHours(Model):
    """Hours when less severe messages wait (they are held, not dropped, and go out when the
    quiet hours end)."""

    start: str = Field(pattern=HHMM, description="local start, HH:MM", examples=["22:00"])
    end: str = Field(pattern=HHMM, description="local end, HH:MM", examples=["07:00"])
    timezone: str = Field("UTC")
    unless: str | None = Field(
        None, description="a severity level: events this severe or worse still go out at "
        "once (none: every event waits); events without a level always wait")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)


class Route(Model):
    """Which events go to which channels: every listed filter must hold."""

    events: list[str] = Field(min_length=1, description="event names or globs "
                              "(`incident.*`, `run.*`, `*`)", examples=[["run.*"]])
    channels: list[Name] = Field(min_length=1, description="channels by name")
    environments: list[Name] | None = Field(None, description="only these environments "
                                            "(none: every one, and events of none)")
    services: list[Name] | None = Field(None, description="only these services")
    min_severity: str | None = Field(None, description="only incidents this severe or worse "
                                     "(a level name, e.g. SEV1); other events pass")
    public_only: bool = Field(False, description="incident updates only when they are public "
                              "(customer-facing e-mail, say)")
    quiet_hours: QuietHours | None = None

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not any(fnmatch.fnmatchcase(name, pattern) for name in EVENTS):
                raise ValueError(f"{pattern!r} matches no event; events are "
                                 + ", ".join(EVENTS))
        return value

    def matches_event(self, event: str) -> bool:
        """Whether this route's ``events`` name or match ``event``."""
        return any(fnmatch.fnmatchcase(event, pattern) for pattern in self.events)


class Delivery(Model):
    """How hard delivery tries before a message is dead-lettered."""

    max_attempts: int = Field(8, ge=1, le=100, description="attempts before dead-lettering")
    backoff: Duration = Field(5.0, gt=0, description="wait after the first failure; doubled "
                              "after each next one, with jitter")
    max_backoff: Duration = Field(3600.0, gt=0, description="the longest wait between tries")
    timeout: Duration = Field(10.0, gt=0, description="one attempt's time limit")


class Notifications(Model):
    """Where messages go."""

    channels: dict[Name, Channel] = Field(default_factory=dict,
                                          description="channels by name")
    routes: list[Route] = Field(default_factory=list,
                                description="which events go where (every matching route "
                                "sends; a channel gets an event once)")
    delivery: Delivery = Field(default_factory=Delivery)
    maintenance_reminders: list[Duration] = Field(
        default_factory=lambda: [7 * 86400.0, 86400.0],
        description="how long before announced maintenance starts to remind "
        "(`maintenance.reminder`; seed 001: 7 days and 24 hours)")


STATES = ("operational", "degraded", "partial_outage", "major_outage", "under_maintenance")


class Component(Model):
    """One component on the status page."""

    name: str | None = Field(None, max_length=80, description="shown name (default: the "
                             "service's name)")
    description: str | None = Field(None, max_length=300)


class StatusPage(Model):
    """The public status page (`/status`, no login): one component per service."""

    enabled: bool = Field(True, description="serve /status, /status.json and /status.atom")
    title: str = Field("Service status", max_length=120)
    environment: Name | None = Field(None, description="the environment it shows (default: "
                                     "`production`, else the last one listed)")
    components: dict[Name, Component] = Field(
        default_factory=dict, description="names and descriptions by service (default: every "
        "service, by its name)")
    states: dict[str, Literal["degraded", "partial_outage", "major_outage"]] = Field(
        default_factory=dict, description="component state while an incident of a level is "
        "open, by level name (default: the most severe level major outage, the next partial "
        "outage, the others degraded)")
    history_days: int = Field(90, ge=1, le=366, description="days of history shown")
