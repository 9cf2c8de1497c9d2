"""The severity policy of incidents: levels (name, response time, what to do), and rules
that map signals to a level. Presets reproduce the seeds' tables.

Level 0 is the most severe. A rule matches when every condition it names holds; the most
severe matching rule wins, and with none the least severe level applies.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import Field, model_validator

from rollgate.spec.base import Model
from rollgate.spec.durations import Duration

Action = Literal["rollback", "consider-rollback", "investigate", "schedule"]
SIGNALS = ("error_rate", "users_affected", "latency_factor", "component_down", "security",
           "data_loss")


class Level(Model):
    """One severity level."""

    name: str = Field(min_length=1, max_length=16, examples=["SEV1", "P0"])
    title: str = Field(max_length=60, examples=["Critical"])
    respond_within: Duration = Field(description="acknowledge and start within this")
    update_every: Duration | None = Field(
        None, description="internal status update due this often (none: no reminders)")
    action: Action = Field("investigate", description="the recommended first move: rollback "
                           "(when a recent deploy touched the service), consider-rollback, "
                           "investigate or schedule")
    status_page_within: Duration | None = Field(
        None, description="the status page must carry a public update this soon after the "
        "incident opens (seed 000: 15 min for SEV0/1; none: no reminder)")
    customer_update_every: Duration | None = Field(
        None, description="a customer-facing update is due this often until resolved "
        "(seed 000: every 30-60 min)")
    postmortem_within: Duration | None = Field(
        None, description="the post-mortem is due this long after the incident is resolved "
        "(seed 000: RCA within 72 h; seed 002: 48 h; none: no post-mortem required)")


class Conditions(Model):
    """Signals a rule looks at; every one given must hold."""

    error_rate: float | None = Field(None, ge=0, le=1, description="5xx share at least this")
    users_affected: float | None = Field(None, ge=0, le=1,
                                         description="share of users affected at least this")
    latency_factor: float | None = Field(None, gt=0, description="p95 at least this many "
                                         "times normal")
    component_down: bool | None = Field(None, description="a whole component is down")
    security: bool | None = Field(None, description="a security breach or exploited "
                                  "vulnerability")
    data_loss: bool | None = Field(None, description="data lost or corrupted")


class Rule(Model):
    """Signals that mean a level."""

    when: Conditions
    level: str = Field(description="a level's name")


class SeverityPolicy(Model):
    """Levels from most to least severe, and the rules that pick one."""

    levels: list[Level] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    rollback_window: Duration = Field(24 * 3600.0, description="a deploy this recent that "
                                      "touched the affected service makes `rollback` the "
                                      "recommendation")

    @model_validator(mode="after")
    def _known_levels(self) -> SeverityPolicy:
        names = [lvl.name for lvl in self.levels]
        if len(set(names)) != len(names):
            raise ValueError(f"level names repeat: {', '.join(names)}")
        for i, rule in enumerate(self.rules):
            if rule.level not in names:
                raise ValueError(f"rules[{i}].level: unknown level {rule.level!r}; the levels "
                                 f"are {', '.join(names)}")
        return self

    def index(self, name: str) -> int:
        """A level's position (0: most severe)."""
        return [lvl.name for lvl in self.levels].index(name)

    def classify(self, signals: dict[str, Any]) -> Level:
        """The most severe level whose rule matches ``signals``; the least severe otherwise."""
        matching = [self.index(r.level) for r in self.rules if _holds(r.when, signals)]
        return self.levels[min(matching)] if matching else self.levels[-1]


def _holds(when: Conditions, signals: dict[str, Any]) -> bool:
    for name, threshold in when.model_dump(exclude_none=True).items():
        value = signals.get(name)
        if value is None:
            return False
        if isinstance(threshold, bool):
            if bool(value) != threshold:
                return False
        elif float(value) < float(threshold):
            return False
    return True


M, H = 60.0, 3600.0


def _levels(*rows: tuple[str, str, float, float | None, Action],
            status_page: int = 0, customer: float | None = None, postmortem: float | None = None,
            postmortem_levels: int = 2) -> list[dict[str, Any]]:
    """Levels from rows; the ``status_page`` most severe get a 15-minute status page rule and
    the customer cadence, the ``postmortem_levels`` most severe a post-mortem due date."""
    return [{"name": n, "title": t, "respond_within": r, "update_every": u, "action": a,
             "status_page_within": 15 * M if i < status_page else None,
             "customer_update_every": customer if i < status_page else None,
             "postmortem_within": postmortem if i < postmortem_levels else None}
            for i, (n, t, r, u, a) in enumerate(rows)]


PRESETS: dict[str, dict[str, Any]] = {
    # Seed 000 (M3CoreCRM) §3.1: SEV0 outage/security, SEV1 core flows failing or > 10% 5xx,
    # SEV2 a module down or a severe regression, SEV3 minor; updates every 15 min for SEV0/1.
    "sev0-3": {
        "levels": _levels(("SEV0", "Outage/Security", 5 * M, 15 * M, "rollback"),
                          ("SEV1", "Critical Degradation", 15 * M, 15 * M, "rollback"),
                          ("SEV2", "Major", H, 30 * M, "consider-rollback"),
                          ("SEV3", "Minor", 4 * H, None, "investigate"),
                          status_page=2, customer=30 * M, postmortem=72 * H),
        "rules": [{"when": {"security": True}, "level": "SEV0"},
                  {"when": {"users_affected": 1.0}, "level": "SEV0"},
                  {"when": {"error_rate": 0.10}, "level": "SEV1"},
                  {"when": {"component_down": True}, "level": "SEV2"},
                  {"when": {"latency_factor": 2.0}, "level": "SEV2"}],
    },
    # Seed 001 (Fixzit): SEV-1 complete outage 15 min, SEV-2 major degradation 30 min,
    # SEV-3 minor 2 h, SEV-4 low next business day.
    "sev1-4": {
        "levels": _levels(("SEV1", "Complete outage", 15 * M, 15 * M, "rollback"),
                          ("SEV2", "Major degradation", 30 * M, 30 * M, "consider-rollback"),
                          ("SEV3", "Minor degradation", 2 * H, None, "investigate"),
                          ("SEV4", "Low impact", 24 * H, None, "schedule"),
                          status_page=2, customer=30 * M, postmortem=5 * 24 * H),
        "rules": [{"when": {"users_affected": 1.0}, "level": "SEV1"},
                  {"when": {"data_loss": True}, "level": "SEV1"},
                  {"when": {"component_down": True}, "level": "SEV2"},
                  {"when": {"latency_factor": 2.0}, "level": "SEV3"}],
    },
    # Seed 002 (MantisNXT): SEV1 outage / data loss / security (immediate, rollback),
    # SEV2 > 5% errors or > 2x slower (1 h, consider rollback), SEV3 1-5% errors (4 h),
    # SEV4 cosmetic (24 h).
    "mantisnxt": {
        "levels": _levels(("SEV1", "Critical", 0.0, 15 * M, "rollback"),
                          ("SEV2", "High", H, 30 * M, "consider-rollback"),
                          ("SEV3", "Medium", 4 * H, None, "investigate"),
                          ("SEV4", "Low", 24 * H, None, "schedule"),
                          status_page=2, customer=60 * M, postmortem=48 * H),
        "rules": [{"when": {"users_affected": 1.0}, "level": "SEV1"},
                  {"when": {"data_loss": True}, "level": "SEV1"},
                  {"when": {"security": True}, "level": "SEV1"},
                  {"when": {"error_rate": 0.05}, "level": "SEV2"},
                  {"when": {"latency_factor": 2.0}, "level": "SEV2"},
                  {"when": {"error_rate": 0.01}, "level": "SEV3"}],
    },
    # Seed 003 (DotMac): P0 15 min (on-call), P1 1 h, P2 4 h, P3 24 h.
    "p0-3": {
        "levels": _levels(("P0", "Critical", 15 * M, 15 * M, "rollback"),
                          ("P1", "High", H, 30 * M, "consider-rollback"),
                          ("P2", "Medium", 4 * H, None, "investigate"),
                          ("P3", "Low", 24 * H, None, "schedule"),
                          status_page=2, customer=30 * M, postmortem=48 * H),
        "rules": [{"when": {"users_affected": 1.0}, "level": "P0"},
                  {"when": {"error_rate": 0.10}, "level": "P0"},
                  {"when": {"latency_factor": 2.0}, "level": "P1"},
                  {"when": {"component_down": True}, "level": "P1"}],
    },
    # Seed 004 (payments template): P0 payments down (immediate), P1 degraded (< 15 min),
    # P2 isolated errors (< 1 h), P3 cosmetic (< 1 day).
    "payments": {
        "levels": _levels(("P0", "Critical (payments down)", 0.0, 15 * M, "rollback"),
                          ("P1", "Major (degraded performance)", 15 * M, 30 * M,
                           "consider-rollback"),
                          ("P2", "Minor (isolated errors)", H, None, "investigate"),
                          ("P3", "Low (cosmetic issues)", 24 * H, None, "schedule"),
                          status_page=2, customer=30 * M, postmortem=48 * H),
        "rules": [{"when": {"component_down": True}, "level": "P0"},
                  {"when": {"latency_factor": 1.5}, "level": "P1"},
                  {"when": {"error_rate": 0.01}, "level": "P2"}],
    },
}


@cache
def preset(name: str) -> SeverityPolicy:
    """A preset policy by name (see ``PRESETS``); built once (policies are immutable), since
    routing and timers ask for it per event."""
    if name not in PRESETS:
        raise ValueError(f"unknown severity preset {name!r}; presets: {', '.join(PRESETS)}")
    return SeverityPolicy.model_validate(PRESETS[name])
