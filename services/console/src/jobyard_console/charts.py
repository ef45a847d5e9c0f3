"""The overview's charts, drawn on the server as SVG from the monitor's series.

No script and no library: a chart is a few ``<path>`` elements the template writes under the
console's CSP. Each line differs by its dash pattern and its marker as well as its colour
(readable without colour), the legend names each one, and the same numbers are in a table
beside the charts for screen readers and for copying.

Usage
-----

::

    series = StatsSeries.model_validate(await page.api("GET", "/api/v1/stats/series", service="monitor"))
    outcomes = chart("Outcomes", series, OUTCOME_LINES, count_label)
    # template: {% for line in outcomes.lines %}<path class="line {{ line.style }}" d="{{ line.path }}"/>
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jobyard_libs.tasks.stats import SeriesPoint, StatsSeries

WIDTH, HEIGHT = 360, 170  # about the size it is shown at, so 11-unit labels read as 11 px
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 8, 20  # the plot's margins: axis labels live there
STYLES = ("solid", "dashed", "dotted", "dashdot")
Value = Callable[[SeriesPoint], float | None]


@dataclass(frozen=True)
class Line:
    name: str
    style: str  # css class: the dash pattern and the marker
    path: str  # the SVG path; gaps where the point has no value
    last: str  # the newest value, as words


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    empty: bool  # nothing to draw in the span: the chart says so instead of a flat line
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    middle: int = (LEFT + WIDTH - RIGHT) // 2


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (the y axis's top).

    >>> nice_ceiling(0), nice_ceiling(7), nice_ceiling(12), nice_ceiling(0.031)
    (1.0, 10.0, 20.0, 0.05)
    """
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-9)))


def count_label(value: float) -> str:
    """A count with thousands marked.

    >>> count_label(3.0), count_label(12500.0)
    ('3', '12,500')
    """
    return f"{value:,.0f}"


def seconds_label(value: float | None) -> str:
    """A run time in the unit that reads best.

    >>> seconds_label(0.0042), seconds_label(0.25), seconds_label(4.2), seconds_label(150), seconds_label(None)
    ('4.2 ms', '250 ms', '4.2 s', '2.5 min', '—')
    >>> seconds_label(0)
    '0'
    """
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def chart(
    title: str, series: StatsSeries, lines: Sequence[tuple[str, Value]], label: Callable[[float], str]
) -> Chart:
    """One chart of ``lines`` (a name and how to read it from a point) over the series."""
    points = series.points
    values = [[read(p) for p in points] for _, read in lines]
    top = nice_ceiling(max((v for row in values for v in row if v is not None), default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(1, len(points) - 1)

    def xy(i: int, v: float) -> str:
        return f"{LEFT + i * step:.1f},{TOP + inner_h * (1 - v / top):.1f}"

    drawn = []
    for (name, _), row, style in zip(lines, values, STYLES, strict=False):
        path = []
        for i, v in enumerate(row):
            if v is None:
                continue
            pen_down = i > 0 and row[i - 1] is not None
            alone = not pen_down and (i + 1 == len(row) or row[i + 1] is None)
            path.append(f"{'L' if pen_down else 'M'}{xy(i, v)}{' h0.01' if alone else ''}")  # a dot
        newest = next((v for v in reversed(row) if v is not None), None)
        drawn.append(Line(name, style, " ".join(path), "—" if newest is None else label(newest)))
    y_ticks = [Tick(TOP + inner_h * (1 - f), label(top * f)) for f in (0, 0.5, 1)]
    y_ticks = [t for i, t in enumerate(y_ticks) if t.label not in {u.label for u in y_ticks[:i]}]
    span_minutes = len(points) * series.step_seconds // 60
    x_ticks = [
        Tick(LEFT + inner_w * f, "now" if f == 1 else _ago(span_minutes * (1 - f))) for f in (0, 0.5, 1)
    ]
    empty = all(v is None or v == 0 for row in values for v in row)
    return Chart(title, drawn, y_ticks, x_ticks, empty)


def _ago(minutes: float) -> str:
    """How long ago, in the unit that reads best.

    >>> _ago(60), _ago(1440), _ago(15)
    ('60 min ago', '24 h ago', '15 min ago')
    """
    return f"{minutes / 60:.0f} h ago" if minutes > 90 else f"{minutes:.0f} min ago"


OUTCOME_LINES: list[tuple[str, Value]] = [
    ("completed", lambda p: p.completed),
    ("retried", lambda p: p.retrying),
    ("dead", lambda p: p.dead),
    ("cancelled", lambda p: p.cancelled),
]
RUN_TIME_LINES: list[tuple[str, Value]] = [
    ("p50", lambda p: p.p50_seconds),
    ("p95", lambda p: p.p95_seconds),
    ("p99", lambda p: p.p99_seconds),
]


def depth_lines(series: StatsSeries) -> list[tuple[str, Value]]:
    """One line per queue shown (at most four: one per dash pattern)."""
    shown = [series.queue] if series.queue else series.queues[: len(STYLES)]
    return [(queue, _depth_of(queue)) for queue in shown]


def _depth_of(queue: str) -> Value:
    def read(point: SeriesPoint) -> float | None:
        value = point.depth.get(queue)
        return None if value is None else float(value)

    return read


def charts(series: StatsSeries) -> list[Chart]:
    per = "minute" if series.step_seconds == 60 else f"{series.step_seconds // 60} minutes"
    return [
        chart(f"Outcomes per {per}", series, OUTCOME_LINES, count_label),
        chart("Run time (p50, p95, p99)", series, RUN_TIME_LINES, seconds_label),
        chart("Queue backlog (ready, due and in flight)", series, depth_lines(series), count_label),
    ]
