"""Checks: health probes of instances, and the named checks of the spec (one kind each).

The public API of check kinds: :class:`CheckConfig` (a kind's config model),
:func:`check_kind` (registers its runner), :class:`CheckContext` (what a runner sees),
:class:`CheckResult` (what it returns) and :func:`run_check` (runs any check).
"""

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind, run_check

__all__ = ["CheckConfig", "CheckContext", "CheckResult", "check_kind", "run_check"]
