"""Metric sources: what the canary and the baseline did over a window."""
