"""The analysis rollgate ships: what ``bench/canary`` measures and a canary uses by default."""

from __future__ import annotations

from rollgate.spec.analysis import Analysis, Judge, JudgeMetric

DEFAULT_ANALYSIS = Analysis(
    interval=1.0,
    judge=Judge(
        metrics=[
            JudgeMetric(metric="error_rate", weight=2.0, critical=True),
            JudgeMetric(metric="latency", critical=True, effect_floor=0.1),
            JudgeMetric(metric="p99", critical=True, effect_floor=0.2),
        ],
        alpha=0.01,
    ),
)
"""Every second, the canary against stable: 5xx counts, the latency distribution
(ignoring shifts under 10%) and the p99 tail (ignoring shifts under 20%), any of them
failing rolls back; at most a 1% chance of rolling back a good canary however long it
runs, half of it spent on errors."""
