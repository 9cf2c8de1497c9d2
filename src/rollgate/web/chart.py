"""A small SVG renderer for analysis checks: canary vs stable over time, thresholds, verdicts.

One panel per check (an analysis rule or a judged metric), stacked on a shared time axis:
the canary's observed value and the stable baseline as two lines, the threshold as a dashed
line, and one marker per evaluation coloured by its verdict (its summary as a tooltip).
Everything is built as text with every value escaped; no charting library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from rollgate.store.tables import AnalysisCheck

WIDTH = 760
PANEL_HEIGHT = 170
LEGEND_HEIGHT = 28
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
PANEL_TOP = 24
PANEL_BOTTOM = 26

CANARY = "#d9480f"
BASELINE = "#1c7ed6"
THRESHOLD = "#495057"
AXIS = "#868e96"
GRID = "#e9ecef"
VERDICT_COLOURS = {"pass": "#2b8a3e", "inconclusive": "#adb5bd", "fail": "#c92a2a"}
RATE_METRICS = {"error_rate", "health"}
TIME_METRICS = {"latency", "p50", "p90", "p95", "p99", "p999"}


@dataclass(frozen=True)
class Point:
    """One evaluation of a check."""

    at: datetime
    seq: int
    verdict: str
    observed: float | None
    baseline: float | None
    threshold: float | None
    summary: str


@dataclass
class Series:
    """Every evaluation of one check of one analysis, oldest first."""

    analysis: str
    name: str
    metric: str
    kind: str
    points: list[Point] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The panel's heading."""
        shown = self.name if self.name == self.metric else f"{self.name} ({self.metric})"
        return f"{self.analysis}: {shown}, {self.kind}"


def series_of(checks: Iterable[AnalysisCheck]) -> list[Series]:
    """Group check rows into one series per (analysis, check name), in first-seen order."""
    found: dict[tuple[str, str], Series] = {}
    for c in checks:
        key = (c.analysis, c.name)
        if key not in found:
            found[key] = Series(c.analysis, c.name, c.metric, c.kind)
        found[key].points.append(Point(c.at, c.seq, c.verdict, c.observed, c.baseline,
                                       c.threshold, c.summary))
    return list(found.values())


# -- numbers and labels ---------------------------------------------------------------------


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 5.0, 10.0):
        if raw <= mult * power:
            return mult * power
    return 10.0 * power


def ticks(top: float, count: int = 4) -> list[float]:
    """Tick values from 0 to at least ``top``."""
    step = nice_step(top, count)
    n = max(1, math.ceil(top / step - 1e-9))
    return [round(i * step, 12) for i in range(n + 1)]


def format_value(metric: str, value: float) -> str:
    """A value as its metric reads: a percentage, milliseconds, or a plain number."""
    if metric == "error_rate":
        return f"{value * 100:.3g}%"
    if metric in TIME_METRICS:
        return f"{value:.4g} ms"
    return f"{value:.4g}"


def format_seconds(value: float) -> str:
    """Seconds on the time axis."""
    if value >= 120:
        return f"{value / 60:.3g}m"
    return f"{value:.3g}s"


# -- SVG text -------------------------------------------------------------------------------


def attrs(**values: object) -> str:
    """XML attributes, escaped; ``class_`` becomes ``class``, underscores become dashes."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = "class" if key == "class_" else key.replace("_", "-")
        parts.append(f'{name}="{escape(str(value), quote=True)}"')
    return " ".join(parts)


def tag(name: str, body: str | None = None, **values: object) -> str:
    """One element; empty when ``body`` is None."""
    head = f"<{name} {attrs(**values)}".rstrip()
    return f"{head}/>" if body is None else f"{head}>{body}</{name}>"


def text(x: float, y: float, content: str, **values: object) -> str:
    """A text element with escaped content."""
    return tag("text", escape(content), x=f"{x:.1f}", y=f"{y:.1f}", **values)


# -- panels ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """Where a panel's plot area is, and the data range it shows."""

    top: float
    height: float
    t_max: float
    y_max: float

    @property
    def left(self) -> float:
        """Left edge of the plot area."""
        return float(MARGIN_LEFT)

    @property
    def width(self) -> float:
        """Width of the plot area."""
        return float(WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

    def x(self, t: float) -> float:
        """Seconds to a horizontal position."""
        return self.left + self.width * (t / self.t_max if self.t_max else 0.0)

    def y(self, v: float) -> float:
        """A value to a vertical position."""
        return self.top + self.height * (1.0 - min(v, self.y_max) / self.y_max)


def _y_top(series: Series) -> float:
    values = [v for p in series.points for v in (p.observed, p.baseline, p.threshold)
              if v is not None and math.isfinite(v)]
    top = max(values, default=0.0) * 1.15
    if top <= 0:
        return 0.01 if series.metric == "error_rate" else 1.0  # all zero: 0-1% reads better
    return ticks(top)[-1]


def _segments(frame: Frame, pairs: Sequence[tuple[float, float | None]]) -> list[str]:
    """Polyline point lists, broken where a value is missing."""
    runs: list[list[str]] = [[]]
    for t, v in pairs:
        if v is None or not math.isfinite(v):
            runs.append([])
            continue
        runs[-1].append(f"{frame.x(t):.1f},{frame.y(v):.1f}")
    return [" ".join(r) for r in runs if r]


def _line(frame: Frame, pairs: Sequence[tuple[float, float | None]], colour: str,
          role: str, dashed: bool = False) -> str:
    out = []
    for pts in _segments(frame, pairs):
        if " " not in pts:  # a single point: draw a short tick so it shows
            x, y = (float(n) for n in pts.split(","))
            pts = f"{x - 3:.1f},{y:.1f} {x + 3:.1f},{y:.1f}"
        out.append(tag("polyline", points=pts, fill="none", stroke=colour, stroke_width=2,
                       stroke_dasharray="6 4" if dashed else None, class_=f"line {role}",
                       data_series=role))
    return "".join(out)


def _axes(frame: Frame, metric: str) -> str:
    out = []
    for value in ticks(frame.y_max):
        y = frame.y(value)
        out.append(tag("line", x1=f"{frame.left:.1f}", x2=f"{frame.left + frame.width:.1f}",
                       y1=f"{y:.1f}", y2=f"{y:.1f}", stroke=GRID))
        out.append(text(frame.left - 6, y + 4, format_value(metric, value),
                        text_anchor="end", font_size=10, fill=AXIS))
    bottom = frame.top + frame.height
    for value in ticks(frame.t_max, 6):
        x = frame.x(value)
        out.append(tag("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{bottom:.1f}",
                       y2=f"{bottom + 4:.1f}", stroke=AXIS))
        out.append(text(x, bottom + 15, format_seconds(value), text_anchor="middle",
                        font_size=10, fill=AXIS))
    out.append(tag("line", x1=f"{frame.left:.1f}", x2=f"{frame.left:.1f}",
                   y1=f"{frame.top:.1f}", y2=f"{bottom:.1f}", stroke=AXIS))
    out.append(tag("line", x1=f"{frame.left:.1f}", x2=f"{frame.left + frame.width:.1f}",
                   y1=f"{bottom:.1f}", y2=f"{bottom:.1f}", stroke=AXIS))
    return "".join(out)


def _step_marks(frame: Frame, series: Series, start: datetime) -> str:
    """A dotted vertical line where each analysis step (run step seq) begins."""
    out, seen = [], set[int]()
    for p in series.points:
        if p.seq in seen:
            continue
        seen.add(p.seq)
        x = frame.x((p.at - start).total_seconds())
        out.append(tag("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{frame.top:.1f}",
                       y2=f"{frame.top + frame.height:.1f}", stroke=AXIS,
                       stroke_dasharray="1 3"))
        out.append(text(x + 3, frame.top + 10, f"step {p.seq}", font_size=9, fill=AXIS))
    return "".join(out)


def _markers(frame: Frame, series: Series, start: datetime) -> str:
    out = []
    for p in series.points:
        t = (p.at - start).total_seconds()
        value = p.observed if p.observed is not None and math.isfinite(p.observed) else 0.0
        colour = VERDICT_COLOURS.get(p.verdict, AXIS)
        tip = tag("title", escape(f"{p.verdict}: {p.summary}"))
        out.append(tag("circle", tip, cx=f"{frame.x(t):.1f}", cy=f"{frame.y(value):.1f}",
                       r=4 if p.verdict == "fail" else 3, fill=colour, stroke="#fff",
                       stroke_width=1, class_=f"verdict verdict-{p.verdict}",
                       data_verdict=p.verdict))
    return "".join(out)


def panel(series: Series, top: float, start: datetime, t_max: float) -> str:
    """One check's panel at vertical offset ``top``."""
    frame = Frame(top=top + PANEL_TOP, height=PANEL_HEIGHT - PANEL_TOP - PANEL_BOTTOM,
                  t_max=t_max, y_max=_y_top(series))
    times = [(p.at - start).total_seconds() for p in series.points]
    last = series.points[-1]
    heading = f"{series.title}: {last.verdict}"
    body = [
        text(8, top + 15, heading, font_size=12, font_weight="bold", fill="#212529"),
        _axes(frame, series.metric),
        _step_marks(frame, series, start),
        _line(frame, list(zip(times, (p.baseline for p in series.points), strict=True)),
              BASELINE, "baseline"),
        _line(frame, list(zip(times, (p.threshold for p in series.points), strict=True)),
              THRESHOLD, "threshold", dashed=True),
        _line(frame, list(zip(times, (p.observed for p in series.points), strict=True)),
              CANARY, "canary"),
        _markers(frame, series, start),
    ]
    return tag("g", "".join(body), class_="panel", data_check=series.name,
               data_metric=series.metric)


def legend() -> str:
    """What the colours mean."""
    items = [("line", CANARY, "canary"), ("line", BASELINE, "stable (baseline)"),
             ("dash", THRESHOLD, "threshold")]
    items += [("dot", colour, verdict) for verdict, colour in VERDICT_COLOURS.items()]
    out, x = [], 8.0
    for kind, colour, label in items:
        if kind == "dot":
            out.append(tag("circle", cx=f"{x + 6:.1f}", cy="12", r=4, fill=colour))
        else:
            out.append(tag("line", x1=f"{x:.1f}", x2=f"{x + 14:.1f}", y1="12", y2="12",
                           stroke=colour, stroke_width=2,
                           stroke_dasharray="6 4" if kind == "dash" else None))
        out.append(text(x + 18, 16, label, font_size=11, fill="#343a40"))
        x += 24 + 6.5 * len(label)
    return tag("g", "".join(out), class_="legend")


def render(series: Sequence[Series], *, title: str = "analysis checks") -> str:
    """The whole chart as a standalone SVG document (also fit to be inlined in HTML)."""
    series = [s for s in series if s.points]
    if not series:
        height = 40
        body = text(8, 24, "no analysis checks yet", font_size=12, fill=AXIS)
        return _svg(body, height, title)
    start = min(p.at for s in series for p in s.points)
    end = max(p.at for s in series for p in s.points)
    t_max = ticks(max((end - start).total_seconds(), 1.0), 6)[-1]
    panels = [panel(s, LEGEND_HEIGHT + i * PANEL_HEIGHT, start, t_max)
              for i, s in enumerate(series)]
    height = LEGEND_HEIGHT + len(series) * PANEL_HEIGHT
    return _svg(legend() + "".join(panels), height, title)


def _svg(body: str, height: int, title: str) -> str:
    return tag("svg", tag("title", escape(title)) + body, xmlns="http://www.w3.org/2000/svg",
               viewBox=f"0 0 {WIDTH} {height}", width=WIDTH, height=height, role="img",
               font_family="system-ui, sans-serif", class_="chart")
