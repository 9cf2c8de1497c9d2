"""What one check saw in one evaluation, kept so people can read why a canary was judged."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["threshold", "judge", "health"]
CheckVerdict = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class CheckRecord:
    """One check's observation: value, threshold or baseline, sample sizes, statistic, verdict.

    ``summary`` is one line a rollback reason can quote, such as
    ``error_rate 0.052 > 0.010 for 12s (n=118)``.
    """

    name: str
    kind: Kind
    metric: str
    verdict: CheckVerdict
    summary: str
    observed: float | None = None
    threshold: float | None = None
    baseline: float | None = None
    samples: int = 0
    baseline_samples: int | None = None
    statistic: str | None = None
    statistic_value: float | None = None
    p_value: float | None = None
    effect: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values (infinities and NaN become None)."""
        return {key: _json_number(value) for key, value in asdict(self).items()}


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt_value(metric: str, value: float | None) -> str:
    """Render a metric value the way people read it: rates as fractions, latency in ms."""
    if value is None:
        return "n/a"
    if metric == "error_rate":
        return f"{value:.3f}"
    if metric == "request_rate":
        return f"{value:.1f}/s"
    if metric == "health":
        return "passing" if value >= 1 else "failing"
    return f"{value:.0f} ms"


def fmt_percent(value: float | None) -> str:
    """Render a share as a percentage with enough digits for small rates."""
    if value is None:
        return "n/a"
    percent = value * 100
    return f"{percent:.1f}%" if percent >= 1 or percent == 0 else f"{percent:.2f}%"


def fmt_p(value: float) -> str:
    """Render a p-value or alpha compactly (0.0008, 1e-07)."""
    return f"{value:.2g}" if value < 1e-4 else f"{value:.4f}".rstrip("0").rstrip(".")
