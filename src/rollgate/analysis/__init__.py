"""Canary analysis: threshold rules, a sequential baseline judge, readable verdicts."""

from rollgate.analysis.analyzer import Analyzer, Verdict, expected_time_to_detect
from rollgate.analysis.defaults import DEFAULT_ANALYSIS
from rollgate.analysis.records import CheckRecord
from rollgate.analysis.rules import PRESETS, RuleState

__all__ = [
    "DEFAULT_ANALYSIS",
    "PRESETS",
    "Analyzer",
    "CheckRecord",
    "RuleState",
    "Verdict",
    "expected_time_to_detect",
]
