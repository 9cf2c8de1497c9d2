"""The baseline judge: the canary against stable, live, over the same time.

Each metric runs an anytime-valid sequential test (see :mod:`rollgate.analysis.stats`)
on all the data since the analysis started, with the judge's ``alpha`` split between the
metrics in proportion to their weight (a weighted Bonferroni split), so the chance of
failing a good canary stays under ``alpha`` however long the analysis runs and however
often it evaluates. A metric fails when its test
rejects *and* the canary is worse by at least the metric's ``effect_floor`` (a 3% slower
canary is a real difference with enough traffic, but not one worth a rollback) and, for
latency, by at least ``effect_floor_ms`` (a fresh process answering in 0.6 ms instead of
0.5 ms is "21% slower", and nothing anyone would roll back for):

- ``error_rate``: the rate-ratio test on 5xx counts, of "canary rate <= (1 + floor) x
  stable's", so a canary a little worse than the floor cannot pile up evidence over a long
  analysis either; effect = canary rate / stable rate.
- ``latency``: the Mann-Whitney rank test on the latency histograms, made sequential with
  a normal mixture; effect = canary median / stable median.
- ``p50`` ... ``p99``: the rate-ratio test on requests slower than stable's quantile (a
  bucket bound chosen from stable's data before each interval is counted, so the choice
  never peeks at the data it is tested on); effect = canary quantile / stable quantile.

Scores follow Kayenta and Keptn: 100 x the weight of passing metrics over the weight of
judged ones (metrics without enough data are left out). A failing critical metric fails
the judgment at once; otherwise a score below ``marginal_score`` fails it, a score at or
above ``pass_score`` passes it, and in between the analysis keeps watching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollgate.analysis.ledger import Buckets, Data
from rollgate.analysis.records import CheckRecord, CheckVerdict, fmt_p, fmt_percent
from rollgate.analysis.stats import (
    Histogram,
    RateRatioTest,
    half_normal_mixture_log_lr,
    rank_test,
)
from rollgate.spec.analysis import Judge as JudgeConfig
from rollgate.spec.analysis import JudgeMetric

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
RANK_TAU = 0.08
"""Scale of the mixture over AUC shifts (P(canary slower) - 1/2) the rank test mixes over."""


@dataclass(frozen=True)
class Judgment:
    """One evaluation of the judge: a record per metric, the score, and why it failed."""

    records: list[CheckRecord]
    score: float | None
    failure: str | None
    passed: bool


def _ratio(canary: float | None, baseline: float | None) -> float | None:
    """Relative increase canary / baseline - 1 (inf when the baseline is 0)."""
    if canary is None or baseline is None:
        return None
    if baseline <= 0:
        return math.inf if canary > 0 else 0.0
    return canary / baseline - 1.0


def _increase(effect: float | None) -> str:
    if effect is None:
        return ""
    return " (+inf%)" if math.isinf(effect) else f" ({effect * 100:+.0f}%)"


@dataclass(frozen=True)
class Totals:
    """Both versions' data since the start, histograms in bucket order, for one evaluation."""

    canary: Data
    baseline: Data
    canary_hist: Histogram
    baseline_hist: Histogram

    @classmethod
    def of(cls, canary: Data, baseline: Data, buckets: Buckets) -> Totals:
        """Order both histograms once; every metric reads them."""
        bounds = buckets.sorted_bounds
        return cls(canary, baseline, Histogram(buckets.ordered(canary.latency), bounds),
                   Histogram(buckets.ordered(baseline.latency), bounds))


class _Metric:
    """Shared bookkeeping: the metric's alpha, its evidence and its verdict text."""

    statistic = ""

    def __init__(self, spec: JudgeMetric, alpha: float) -> None:
        self.spec = spec
        self.alpha = alpha
        self.threshold = math.log(1.0 / alpha)
        self.failed: CheckRecord | None = None

    def update(self, canary: Data, baseline: Data, buckets: Buckets, totals: Totals) -> None:
        """Add one interval's increments to the test (if it keeps state)."""

    def judge(self, totals: Totals) -> CheckRecord:
        """Judge the totals since the start."""
        raise NotImplementedError

    def verdict(
        self, evidence: float, p_value: float, effect: float | None, delta_ms: float | None = None
    ) -> tuple[CheckVerdict, str]:
        """Fail when the test rejects and the effect clears the floors; say which."""
        test = f"p={fmt_p(p_value)}"
        if evidence < self.threshold:
            return "pass", test
        test += f" < {fmt_p(self.alpha)}"
        if effect is None or effect < self.spec.effect_floor or effect <= 0:
            shown = "n/a" if effect is None else f"{effect * 100:+.0f}%"
            return "pass", f"{test} but {shown} < floor {self.spec.effect_floor * 100:.0f}%"
        if delta_ms is not None and delta_ms < self.spec.effect_floor_ms:
            return "pass", f"{test} but {delta_ms:+.1f} ms < floor {self.spec.effect_floor_ms:g} ms"
        return "fail", test

    def inconclusive(self, totals: Totals, need: int) -> CheckRecord:
        """Too few requests on either side to judge yet."""
        canary, baseline = totals.canary, totals.baseline
        return CheckRecord(
            name=self.spec.metric, kind="judge", metric=self.spec.metric,
            verdict="inconclusive", samples=canary.requests,
            baseline_samples=baseline.requests, statistic=self.statistic,
            summary=f"{self.spec.metric}: {canary.requests} canary and {baseline.requests} "
            f"stable requests, fewer than min_samples {need}",
        )


class _ErrorRate(_Metric):
    statistic = "rate ratio"

    def __init__(self, spec: JudgeMetric, alpha: float) -> None:
        super().__init__(spec, alpha)
        self.test = RateRatioTest(rho0=1.0 + spec.effect_floor)

    def update(self, canary: Data, baseline: Data, buckets: Buckets, totals: Totals) -> None:
        self.test.update(canary.requests, canary.errors, baseline.requests, baseline.errors)

    def judge(self, totals: Totals) -> CheckRecord:
        canary, baseline = totals.canary, totals.baseline
        observed = canary.errors / canary.requests
        base = baseline.errors / baseline.requests
        effect = _ratio(observed, base)
        p_value = self.test.p_value
        verdict, test = self.verdict(self.test.log_evidence, p_value, effect)
        return CheckRecord(
            name="error_rate", kind="judge", metric="error_rate", verdict=verdict,
            observed=observed, baseline=base, samples=canary.requests,
            baseline_samples=baseline.requests, statistic=self.statistic,
            statistic_value=None if effect is None else effect + 1.0,
            p_value=p_value, effect=effect,
            summary=f"error_rate canary {fmt_percent(observed)} vs stable {fmt_percent(base)}, "
            f"sequential {test} (n={canary.requests} vs {baseline.requests})",
        )


class _Latency(_Metric):
    statistic = "AUC"

    def __init__(self, spec: JudgeMetric, alpha: float) -> None:
        super().__init__(spec, alpha)
        self.max_evidence = 0.0

    def judge(self, totals: Totals) -> CheckRecord:
        c, b = totals.canary_hist, totals.baseline_hist
        rank = rank_test(c, b)
        observed, base = c.quantile(0.5), b.quantile(0.5)
        if rank is None or observed is None or base is None:
            return self.inconclusive(totals, 1)
        effect = _ratio(observed, base)
        evidence = half_normal_mixture_log_lr(rank.auc - 0.5, rank.auc_variance, RANK_TAU)
        self.max_evidence = max(self.max_evidence, evidence)
        p_value = min(1.0, math.exp(-self.max_evidence))
        verdict, test = self.verdict(evidence, p_value, effect, observed - base)
        return CheckRecord(
            name="latency", kind="judge", metric="latency", verdict=verdict,
            observed=observed, baseline=base, samples=rank.n_canary,
            baseline_samples=rank.n_baseline, statistic=self.statistic,
            statistic_value=rank.auc, p_value=p_value, effect=effect,
            summary=f"latency p50 canary {observed:.0f} ms vs stable {base:.0f} ms"
            f"{_increase(effect)}, rank test AUC {rank.auc:.3f}, {test} "
            f"(n={rank.n_canary} vs {rank.n_baseline})",
        )


class _Tail(_Metric):
    statistic = "slow share ratio"

    def __init__(self, spec: JudgeMetric, alpha: float) -> None:
        super().__init__(spec, alpha)
        self.q = QUANTILES[spec.metric]
        self.test = RateRatioTest()
        self.bound: float | None = None

    def update(self, canary: Data, baseline: Data, buckets: Buckets, totals: Totals) -> None:
        """Count the interval's slow requests against the bound chosen before it, then
        choose the bound for the next interval from stable's data so far."""
        if self.bound is not None:
            slow = buckets.array > self.bound
            c, b = buckets.fit(canary.latency), buckets.fit(baseline.latency)
            self.test.update(int(c.sum()), int(c[slow].sum()), int(b.sum()), int(b[slow].sum()))
        i = totals.baseline_hist.index(self.q)
        if i is not None:
            bound = float(buckets.sorted_bounds[i])
            self.bound = bound if math.isfinite(bound) else None

    def judge(self, totals: Totals) -> CheckRecord:
        metric = self.spec.metric
        c, b = totals.canary_hist, totals.baseline_hist
        observed, base = c.quantile(self.q), b.quantile(self.q)
        if observed is None or base is None:
            return self.inconclusive(totals, 1)
        effect = _ratio(observed, base)
        p_value = self.test.p_value
        verdict, test = self.verdict(self.test.log_evidence, p_value, effect, observed - base)
        share: float | None = None
        shown = ""
        i = b.index(self.q)
        if i is not None and b.above(i) and c.total:
            share = (c.above(i) / c.total) / (b.above(i) / b.total)
            shown = f", {share:.1f}x stable's share above {float(b.bounds[i]):g} ms"
        canary, baseline = totals.canary, totals.baseline
        return CheckRecord(
            name=metric, kind="judge", metric=metric, verdict=verdict,
            observed=observed, baseline=base, samples=canary.requests,
            baseline_samples=baseline.requests, statistic=self.statistic,
            statistic_value=share, p_value=p_value, effect=effect,
            summary=f"{metric} canary {observed:.0f} ms vs stable {base:.0f} ms"
            f"{_increase(effect)}{shown}, sequential {test} "
            f"(n={canary.requests} vs {baseline.requests})",
        )


class Judge:
    """The judge of one analysis, keeping each metric's evidence between evaluations."""

    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        weights = sum(m.weight for m in config.metrics)
        self.metrics: list[_Metric] = []
        for spec in config.metrics:
            alpha = config.alpha * spec.weight / weights
            kind = {"error_rate": _ErrorRate, "latency": _Latency}.get(spec.metric, _Tail)
            self.metrics.append(kind(spec, alpha))

    def evaluate(self, canary: Data, baseline: Data, canary_inc: Data, baseline_inc: Data,
                 buckets: Buckets) -> Judgment:
        """Add the increments to every test, then judge the totals since the start."""
        need = self.config.min_samples
        enough = canary.requests >= need and baseline.requests >= need
        totals = Totals.of(canary, baseline, buckets)
        records: list[CheckRecord] = []
        for metric in self.metrics:
            metric.update(canary_inc, baseline_inc, buckets, totals)
            if metric.failed is not None:
                records.append(metric.failed)
            elif enough:
                record = metric.judge(totals)
                if record.verdict == "fail":
                    metric.failed = record
                records.append(record)
            else:
                records.append(metric.inconclusive(totals, need))
        return self.score(records)

    def score(self, records: list[CheckRecord]) -> Judgment:
        """Weighted score over judged metrics; critical failures and low scores fail."""
        judged = passed = 0.0
        failure: str | None = None
        for metric, record in zip(self.metrics, records, strict=True):
            if record.verdict == "inconclusive":
                continue
            judged += metric.spec.weight
            if record.verdict == "pass":
                passed += metric.spec.weight
            elif metric.spec.critical and failure is None:
                failure = record.summary
        score = 100.0 * passed / judged if judged else None
        if failure is None and score is not None and score < self.config.marginal_score:
            failure = "; ".join(r.summary for r in records if r.verdict == "fail")
            failure += f" (score {score:.0f} < {self.config.marginal_score:g})"
        ok = failure is None and score is not None and score >= self.config.pass_score
        return Judgment(records, score, failure, ok and all(
            r.verdict != "inconclusive" for r in records))
