"""Analyses in rollgate.yaml: threshold rules on the canary and a live judge against stable.

An analysis is named under ``analyses:`` and used by canary steps (``analysis: NAME``)::

    analyses:
      golden-signals:
        interval: 1s
        rules:
          - {metric: error_rate, op: ">", threshold: 0.10, for: 5m, window: 1m}
          - preset: p95-2000ms-5m
        judge:
          metrics:
            - {metric: error_rate, critical: true}
            - {metric: latency, effect_floor: 0.1}
        inconclusive: {limit: 30, action: wait}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from rollgate.spec.base import Model
from rollgate.spec.durations import Duration

RuleMetric = Literal["error_rate", "p50", "p90", "p95", "p99", "request_rate", "health"]
JudgeMetricName = Literal["error_rate", "latency", "p50", "p90", "p95", "p99"]
Op = Literal[">", ">=", "<", "<="]
PresetName = Literal["health-3-consecutive", "error-rate-10pct-5m", "p95-2000ms-5m"]


class ThresholdRule(Model):
    """A condition on the canary alone, e.g. ``error_rate > 0.01 for 5m``."""

    model_config = ConfigDict(populate_by_name=True)

    metric: RuleMetric = Field(
        description="what is compared: error_rate (share of 5xx, 0-1), p50/p90/p95/p99 "
        "(latency in ms), request_rate (requests/s) or health (1 when the canary's last "
        "health probe passed, 0 when it failed)"
    )
    op: Op = Field(description="comparison that makes an evaluation fail")
    threshold: float = Field(description="value the metric is compared with")
    for_: Duration = Field(
        0.0,
        alias="for",
        description="the condition must hold this long before an evaluation counts as "
        "failing (0 = at once); no data or a passing evaluation restarts the clock",
    )
    window: Duration = Field(60.0, gt=0, description="data window each evaluation reads")
    min_samples: int = Field(
        20,
        ge=0,
        description="fewer canary requests in the window make the evaluation inconclusive "
        "(not used by request_rate and health)",
    )
    consecutive: int = Field(
        1, ge=1, description="consecutive failing evaluations that fail the rule"
    )
    cumulative: int | None = Field(
        None, ge=1, description="failing evaluations in total that fail the rule (off if unset)"
    )
    name: str | None = Field(
        None, description="label in verdicts and rollback reasons (default: the condition)"
    )

    def label(self) -> str:
        """The name shown in records: ``name`` or the condition itself."""
        return self.name or f"{self.metric} {self.op} {self.threshold:g}"


class PresetRule(Model):
    """A named rule from the seed runbooks, expanded to a threshold rule."""

    preset: PresetName = Field(
        description="health-3-consecutive (3 failed health probes in a row), "
        "error-rate-10pct-5m (error rate > 10% for 5 minutes), "
        "p95-2000ms-5m (p95 latency > 2000 ms for 5 minutes)"
    )


def _rule_tag(value: Any) -> str | None:
    """Pick the rule model from its keys, so errors name one model, not both."""
    if isinstance(value, ThresholdRule | PresetRule):
        return type(value).__name__
    if isinstance(value, dict):
        return "PresetRule" if "preset" in value else "ThresholdRule"
    return None


Rule = Annotated[
    Annotated[ThresholdRule, Tag("ThresholdRule")] | Annotated[PresetRule, Tag("PresetRule")],
    Discriminator(
        _rule_tag,
        custom_error_type="rule",
        custom_error_message="must be a mapping: a threshold rule (metric, op, threshold) "
        "or {preset: NAME}",
    ),
]


class JudgeMetric(Model):
    """One metric the judge compares between the canary and stable."""

    metric: JudgeMetricName = Field(
        description="error_rate (sequential test on 5xx counts), latency (sequential "
        "Mann-Whitney rank test on the whole latency distribution) or p50/p90/p95/p99 "
        "(sequential test on the share of requests slower than stable's quantile)"
    )
    weight: float = Field(
        1.0, gt=0, description="share of the score, and of the judge's alpha, this metric gets"
    )
    critical: bool = Field(False, description="a failure fails the whole judgment")
    effect_floor: float = Field(
        0.0,
        ge=0,
        description="relative increase the canary must also show to fail: 0.1 lets a "
        "canary less than 10% worse than stable pass however significant the difference "
        "(error_rate: rate ratio, latency: median ratio, pNN: quantile ratio)",
    )
    effect_floor_ms: float = Field(
        1.0,
        ge=0,
        description="latency and pNN only: the increase in milliseconds the canary must "
        "also show to fail (sub-millisecond differences are noise for HTTP services)",
    )


def _default_judge_metrics() -> list[JudgeMetric]:
    """The metrics ``bench/canary`` measures: any of them failing rolls back."""
    return [
        JudgeMetric(metric="error_rate", weight=2.0, critical=True, effect_floor=0.25),
        JudgeMetric(metric="latency", critical=True, effect_floor=0.1),
        JudgeMetric(metric="p99", critical=True, effect_floor=0.2),
    ]


class Judge(Model):
    """Canary against stable, over the same time, with sequential statistical tests."""

    metrics: list[JudgeMetric] = Field(
        default_factory=_default_judge_metrics,
        min_length=1,
        description="metrics compared; each at most once",
    )
    alpha: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="false-rollback budget of the judge over the whole analysis, however "
        "often it evaluates; split between the metrics in proportion to their weight",
    )
    pass_score: float = Field(
        95.0, ge=0, le=100, description="score (0-100) at or above which the judgment passes"
    )
    marginal_score: float = Field(
        75.0, ge=0, le=100, description="score below which the judgment fails; in between "
        "the analysis keeps watching"
    )
    min_samples: int = Field(
        20, ge=1, description="canary and stable requests needed before a metric is judged"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Judge:
        """Scores in order, and no metric twice."""
        if self.marginal_score > self.pass_score:
            raise ValueError("marginal_score must not be above pass_score")
        names = [m.metric for m in self.metrics]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"metric listed more than once: {', '.join(twice)}")
        return self


class Inconclusive(Model):
    """What happens when the analysis cannot tell: no data or too few samples."""

    limit: int = Field(
        60, ge=1, description="consecutive inconclusive evaluations before the action is taken"
    )
    action: Literal["wait", "pause", "fail"] = Field(
        "wait",
        description="wait: hold the canary where it is and keep analysing (never promote "
        "without evidence); pause: wait for a person to approve or roll back; fail: roll back",
    )


class Analysis(Model):
    """Rules and a judge evaluated together every ``interval``; the first failure rolls back."""

    interval: Duration = Field(1.0, gt=0, description="how often the analysis evaluates")
    rules: list[Rule] = Field(
        default_factory=list, description="threshold rules on the canary alone"
    )
    judge: Judge | None = Field(
        None, description="canary against stable, live, over the same time"
    )
    inconclusive: Inconclusive = Field(
        default_factory=Inconclusive, description="what no data or too few samples leads to"
    )

    @model_validator(mode="after")
    def _has_checks(self) -> Analysis:
        """An analysis without rules or a judge would pass anything."""
        if not self.rules and self.judge is None:
            raise ValueError("an analysis needs rules, a judge, or both")
        return self
