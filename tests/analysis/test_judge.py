"""The baseline judge: effect floors, tail tests, scores and critical metrics."""

from __future__ import annotations

import itertools
import math

from rollgate.analysis.analyzer import Analyzer
from rollgate.analysis.judge import Judge
from rollgate.analysis.records import CheckRecord
from rollgate.metrics.base import Window
from rollgate.spec.analysis import Analysis
from rollgate.spec.analysis import Judge as JudgeConfig


def shifted(n: int, factor: float, slow_share: float = 0.0) -> dict[float, int]:
    """A smooth latency histogram of ``n`` requests around 100 ms, scaled by ``factor``."""
    bounds = [50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0, 135.0, 150.0, 170.0, 200.0,
              1000.0, math.inf]
    shares = [0.02, 0.05, 0.08, 0.12, 0.15, 0.16, 0.14, 0.11, 0.08, 0.05, 0.03, 0.01, 0.0, 0.0]
    hist: dict[float, int] = {}
    for bound, share in zip(bounds, shares, strict=True):
        # Scaling latencies by ``factor`` moves mass up by the matching share of a bucket.
        hist[bound] = hist.get(bound, 0) + round(n * share * (1 - slow_share))
    if factor != 1.0:
        moved = {b: round(c * (factor - 1.0) * 5) for b, c in hist.items()}
        keys = sorted(hist)
        for low, high in itertools.pairwise(keys):
            step = min(moved[low], hist[low])
            hist[low] -= step
            hist[high] += step
    if slow_share:
        hist[1000.0] += round(n * slow_share)
    return hist


def judge_only(**judge: object) -> Analysis:
    return Analysis.model_validate({"judge": judge})


def run(config: Analysis, steps: int, canary: dict[float, int], baseline: dict[float, int],
        canary_errors: int = 0, baseline_errors: int = 0) -> list[CheckRecord]:
    """Feed ``steps`` evaluations of growing windows with the given per-second data."""
    analyzer = Analyzer(config)
    records: list[CheckRecord] = []
    for t in range(1, steps + 1):
        c = Window("canary", t, t * sum(canary.values()), t * canary_errors,
                   {b: t * n for b, n in canary.items()})
        b = Window("stable", t, t * sum(baseline.values()), t * baseline_errors,
                   {k: t * n for k, n in baseline.items()})
        verdict = analyzer.evaluate(float(t), c, b)
        records = verdict.records
        if verdict.verdict == "fail":
            break
    return records


def test_effect_floor_lets_a_tiny_significant_shift_pass() -> None:
    canary, baseline = shifted(2000, 1.03), shifted(18000, 1.0)
    floor = run(judge_only(metrics=[{"metric": "latency", "effect_floor": 0.1}]), 20,
                canary, baseline)
    assert floor[0].verdict == "pass"
    assert floor[0].p_value is not None and floor[0].p_value < 1e-6
    assert "< floor 10%" in floor[0].summary
    no_floor = run(judge_only(metrics=[{"metric": "latency"}]), 20, canary, baseline)
    assert no_floor[0].verdict == "fail"


def test_a_real_latency_shift_fails_with_a_readable_record() -> None:
    records = run(judge_only(metrics=[{"metric": "latency", "effect_floor": 0.1}]), 30,
                  shifted(10, 1.5), shifted(90, 1.0))
    record = records[0]
    assert record.verdict == "fail" and record.statistic == "AUC"
    assert record.statistic_value is not None and record.statistic_value > 0.6
    assert record.summary.startswith("latency p50 canary ")
    assert "rank test AUC" in record.summary and "(n=" in record.summary


def test_the_tail_test_catches_a_slow_tail_the_median_floor_lets_pass() -> None:
    canary, baseline = shifted(100, 1.0, slow_share=0.03), shifted(900, 1.0)
    config = judge_only(metrics=[{"metric": "latency", "effect_floor": 0.1},
                                 {"metric": "p99", "effect_floor": 0.2}])
    latency, p99 = run(config, 60, canary, baseline)
    assert latency.verdict == "pass"
    assert p99.verdict == "fail" and p99.statistic == "slow share ratio"
    assert p99.effect is not None and p99.effect > 0.2


def test_error_rate_record_quotes_both_rates_and_samples() -> None:
    records = run(judge_only(metrics=[{"metric": "error_rate", "critical": True}]), 60,
                  shifted(10, 1.0), shifted(90, 1.0), canary_errors=1, baseline_errors=0)
    record = records[0]
    assert record.verdict == "fail"
    assert record.summary.startswith("error_rate canary 11.1% vs stable 0.0%, sequential p=")
    assert record.summary.endswith(f"(n={record.samples} vs {record.baseline_samples})")
    assert record.to_dict()["effect"] is None  # infinite increase, kept JSON-safe


def test_too_few_samples_are_inconclusive() -> None:
    records = run(judge_only(min_samples=50), 1, shifted(10, 1.0), shifted(90, 1.0))
    assert {r.verdict for r in records} == {"inconclusive"}
    assert "fewer than min_samples 50" in records[0].summary


def record(metric: str, verdict: str) -> CheckRecord:
    return CheckRecord(name=metric, kind="judge", metric=metric, verdict=verdict,  # type: ignore[arg-type]
                       summary=f"{metric} {verdict}")


def test_scores_weights_critical_metrics_and_thresholds() -> None:
    config = JudgeConfig.model_validate({
        "metrics": [{"metric": "error_rate", "weight": 2, "critical": True},
                    {"metric": "latency"}, {"metric": "p95"}, {"metric": "p99"}],
        "pass_score": 90, "marginal_score": 60,
    })
    judge = Judge(config)
    assert [m.alpha for m in judge.metrics] == [0.004, 0.002, 0.002, 0.002]

    ok = judge.score([record(m, "pass") for m in ("error_rate", "latency", "p95", "p99")])
    assert (ok.score, ok.failure, ok.passed) == (100.0, None, True)

    critical = judge.score([record("error_rate", "fail")] + [
        record(m, "pass") for m in ("latency", "p95", "p99")])
    assert critical.failure == "error_rate fail" and critical.score == 60.0

    marginal = judge.score([record("error_rate", "pass"), record("latency", "fail"),
                            record("p95", "pass"), record("p99", "pass")])
    assert (marginal.score, marginal.failure, marginal.passed) == (80.0, None, False)

    low = judge.score([record("error_rate", "pass"), record("latency", "fail"),
                       record("p95", "fail"), record("p99", "inconclusive")])
    assert low.score == 50.0
    assert low.failure == "latency fail; p95 fail (score 50 < 60)"


def test_sub_millisecond_differences_pass_unless_the_ms_floor_is_lowered() -> None:
    canary = {0.25: 20, 0.5: 40, 0.75: 30, 1.0: 10}
    baseline = {0.25: 300, 0.5: 450, 0.75: 120, 1.0: 30}
    metric = {"metric": "latency", "effect_floor": 0.1}
    record = run(judge_only(metrics=[metric]), 10, canary, baseline)[0]
    assert record.verdict == "pass" and "ms < floor 1 ms" in record.summary
    strict = run(judge_only(metrics=[metric | {"effect_floor_ms": 0}]), 10, canary, baseline)
    assert strict[0].verdict == "fail"
