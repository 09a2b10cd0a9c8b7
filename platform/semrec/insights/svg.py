"""Layout of server-rendered SVG line charts over a time axis: ticks, paths, markers and colours.

The template ``admin/insights/chart.html`` draws what ``layout_chart`` returns,
so the page needs no JavaScript and no network access.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils.formats import date_format, number_format

WIDTH = 960
HEIGHT = 320
MARGIN_LEFT = 72
MARGIN_RIGHT = 20
MARGIN_TOP = 16
MARGIN_BOTTOM = 56
MAX_X_TICKS = 10
Y_TICKS = 5

#: Okabe-Ito colours, distinguishable with the common colour-vision deficiencies; grey replaces
#: their black and yellow, which vanish on the dark and light admin themes.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C8C8C"]
#: Dash patterns that tell series apart once the palette repeats.
DASHES = ["", "6 3", "2 3"]
#: Day steps of the x-axis ticks, the first that gives at most MAX_X_TICKS ticks is used.
DAY_STEPS = [1, 2, 3, 7, 14, 30, 61, 91]


class ValueFormat:
    COUNT = "count"
    PERCENT = "percent"
    DECIMAL = "decimal"


def format_value(value: float | None, value_format: str) -> str:
    """Format a value for tick labels, tooltips and tables in the active locale."""
    if value is None:
        return "-"
    if value_format == ValueFormat.COUNT:
        return number_format(int(round(value)), force_grouping=True)
    if value_format == ValueFormat.PERCENT:
        # number_format cuts extra decimals off instead of rounding them.
        return f"{number_format(round(value * 100, 1), decimal_pos=1)}%"
    return number_format(round(value, 4), decimal_pos=4)


def format_tick(value: float, step: float, value_format: str) -> str:
    """Format a y-axis tick with only the decimals its step needs (0.1 steps give 0.1, 0.2, ...)."""
    if value_format == ValueFormat.COUNT:
        return format_value(value, value_format)
    scale = 100 if value_format == ValueFormat.PERCENT else 1
    decimals = max(0, -math.floor(math.log10(step * scale) + 1e-9)) if step > 0 else 0
    text = number_format(round(value * scale, decimals), decimal_pos=decimals)
    return f"{text}%" if value_format == ValueFormat.PERCENT else text


@dataclass
class Point:
    x: datetime
    y: float
    #: Text of the marker's tooltip.
    tooltip: str


@dataclass
class Series:
    label: str
    points: list[Point] = field(default_factory=list)
    #: Points further apart than this are not joined by a line (a day without data). None joins all.
    max_gap: timedelta | None = None


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class DrawnSeries:
    label: str
    colour: str
    dash: str
    path: str
    markers: list[tuple[float, float, str]]


@dataclass
class ChartLayout:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[DrawnSeries]

    @property
    def x_title_y(self) -> int:
        return self.height - 8

    @property
    def y_title_x(self) -> int:
        return 16

    @property
    def plot_middle_y(self) -> float:
        return (self.plot_top + self.plot_bottom) / 2

    @property
    def plot_middle_x(self) -> float:
        return (self.plot_left + self.plot_right) / 2


def nice_ticks(maximum: float, value_format: str) -> list[float]:
    """Return about Y_TICKS round tick values from 0 to at least ``maximum``."""
    if maximum <= 0:
        maximum = 1.0
    raw_step = maximum / Y_TICKS
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(multiple * magnitude for multiple in (1, 2, 2.5, 5, 10) if multiple * magnitude >= raw_step)
    if value_format == ValueFormat.COUNT:
        step = max(1.0, math.ceil(step))
    count = math.ceil(maximum / step - 1e-9)
    return [index * step for index in range(count + 1)]


def day_ticks(first_day: date, last_day: date) -> list[date]:
    """Return the days that get an x-axis label: every n-th day, n chosen so there are at most MAX_X_TICKS."""
    days = (last_day - first_day).days + 1
    step = next((candidate for candidate in DAY_STEPS if math.ceil(days / candidate) <= MAX_X_TICKS), DAY_STEPS[-1])
    return [first_day + timedelta(days=offset) for offset in range(0, days, step)]


def layout_chart(series: list[Series], start: datetime, end: datetime, value_format: str) -> ChartLayout:
    """Place ``series`` on a plot whose x axis runs from ``start`` to ``end`` (aware datetimes)."""
    plot_left, plot_right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    plot_top, plot_bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    span = (end - start).total_seconds() or 1.0
    values = [point.y for entry in series for point in entry.points]
    y_values = nice_ticks(max(values, default=0.0), value_format)
    y_top = y_values[-1]

    def x_of(moment: datetime) -> float:
        return round(plot_left + (moment - start).total_seconds() / span * (plot_right - plot_left), 1)

    def y_of(value: float) -> float:
        return round(plot_bottom - value / y_top * (plot_bottom - plot_top), 1)

    first_day = start.date()
    last_day = (end - timedelta(microseconds=1)).date()
    label_format = "MONTH_DAY_FORMAT" if first_day.year == last_day.year else "SHORT_DATE_FORMAT"
    x_ticks = [
        Tick(x_of(datetime.combine(day, datetime.min.time(), tzinfo=start.tzinfo)), date_format(day, label_format))
        for day in day_ticks(first_day, last_day)
    ]
    step = y_values[1] - y_values[0]
    y_ticks = [Tick(y_of(value), format_tick(value, step, value_format)) for value in y_values]
    drawn = [_draw(entry, index, x_of, y_of) for index, entry in enumerate(series)]
    return ChartLayout(WIDTH, HEIGHT, plot_left, plot_right, plot_top, plot_bottom, x_ticks, y_ticks, drawn)


def _draw(entry: Series, index: int, x_of, y_of) -> DrawnSeries:
    colour = PALETTE[index % len(PALETTE)]
    dash = DASHES[(index // len(PALETTE)) % len(DASHES)]
    commands = []
    previous = None
    for point in sorted(entry.points, key=lambda point: point.x):
        joined = previous is not None and (entry.max_gap is None or point.x - previous.x <= entry.max_gap)
        commands.append(f"{'L' if joined else 'M'}{x_of(point.x)} {y_of(point.y)}")
        previous = point
    markers = [(x_of(point.x), y_of(point.y), point.tooltip) for point in entry.points]
    return DrawnSeries(entry.label, colour, dash, " ".join(commands), markers)
