"""The analysis rollgate ships: what ``bench/canary`` measures and a canary uses by default."""

from __future__ import annotations

from rollgate.spec.analysis import Analysis, Judge

DEFAULT_ANALYSIS = Analysis(interval=1.0, judge=Judge())
"""Every second, the canary against stable (the judge's defaults): 5xx counts (ignoring
increases under 25%), the latency distribution (shifts under 10%) and the p99 tail (under
20%), any of them failing rolls back; at most a 1% chance of rolling back a good canary
however long it runs, half of it spent on errors."""
