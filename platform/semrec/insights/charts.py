"""Build the charts of one tenant over one date range: series, tables and empty-state messages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from semrec.catalog.models import EventKind
from semrec.evaluation.models import EvaluationResult
from semrec.evaluation.protocol import SplitProtocol
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant

from . import data
from .svg import ChartLayout, Point, Series, ValueFormat, format_value, layout_chart


@dataclass
class Chart:
    """One chart of the page, with the table that carries the same numbers."""

    slug: str
    title: str
    definition: str
    x_label: str
    y_label: str
    layout: ChartLayout | None
    table_headers: list[str] = field(default_factory=list)
    #: Rows of cells; each cell is (text, is_number).
    table_rows: list[list[tuple[str, bool]]] = field(default_factory=list)
    #: Shown instead of the chart when there is nothing to draw.
    empty_message: str = ""
    #: Shown under a drawn chart.
    note: str = ""


def _noon(day: date) -> datetime:
    """Return where a daily value sits on the time axis: the middle of its day."""
    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


def _day_label(day: date) -> str:
    return date_format(day, "DATE_FORMAT")


def _x_label() -> str:
    return _("day (%(zone)s)") % {"zone": timezone.get_current_timezone_name()}


def build_charts(tenant: Tenant, days: data.DateRange, metric: str, k: int) -> list[Chart]:
    served = data.served_per_day(tenant, days)
    names = _strategy_names(tenant, {row.strategy_id for row in served})
    return [
        events_chart(tenant, days),
        served_chart(tenant, days, served, names),
        click_through_chart(days, served, names),
        offline_chart(tenant, days, metric, k),
    ]


def events_chart(tenant: Tenant, days: data.DateRange) -> Chart:
    counts = data.events_per_day(tenant, days)
    kinds = [(kind, label) for kind, label in EventKind.choices if kind in counts]
    chart = Chart(
        slug="events",
        title=_("Events per day by kind"),
        definition=_("Events of every kind stored for the tenant, by the day of their timestamp."),
        x_label=_x_label(),
        y_label=_("events"),
        layout=None,
    )
    if not kinds:
        chart.empty_message = _(
            "No events for %(tenant)s from %(start)s to %(end)s. Send events to POST /api/v1/events or import a data set "
            "with manage.py semrec_import, or pick a wider range."
        ) % {"tenant": tenant.slug, "start": days.first.isoformat(), "end": days.last.isoformat()}
        return chart

    series = []
    for kind, label in kinds:
        points = [
            Point(_noon(day), counts[kind].get(day, 0), f"{_day_label(day)}: {format_value(counts[kind].get(day, 0), ValueFormat.COUNT)} {label}")
            for day in days.days
        ]
        series.append(Series(str(label), points))
    chart.layout = layout_chart(series, days.start, days.end, ValueFormat.COUNT)
    chart.table_headers = [_("day"), *[str(label) for _kind, label in kinds], _("total")]
    for day in days.days:
        values = [counts[kind].get(day, 0) for kind, _label in kinds]
        cells = [(_day_label(day), False), *[(format_value(value, ValueFormat.COUNT), True) for value in values]]
        cells.append((format_value(sum(values), ValueFormat.COUNT), True))
        chart.table_rows.append(cells)
    return chart


def _strategy_names(tenant: Tenant, strategy_ids: set[int | None]) -> dict[int | None, str]:
    names = dict(Strategy.objects.filter(tenant=tenant, pk__in=[pk for pk in strategy_ids if pk]).values_list("pk", "name"))
    names[None] = _("deleted strategy")
    return names


def _by_strategy(served: list[data.ServedDay], names: dict) -> dict[int | None, dict[date, data.ServedDay]]:
    grouped: dict[int | None, dict[date, data.ServedDay]] = defaultdict(dict)
    for row in sorted(served, key=lambda row: names.get(row.strategy_id, "")):
        grouped[row.strategy_id][row.day] = row
    return grouped


def served_chart(tenant: Tenant, days: data.DateRange, served: list[data.ServedDay], names: dict) -> Chart:
    chart = Chart(
        slug="served",
        title=_("Recommendations served per strategy"),
        definition=_(
            "Lists served through the API (recommendations for a user, similar items, search), by the day they were "
            "served. Previews on the admin's Try it page are not logged and not counted."
        ),
        x_label=_x_label(),
        y_label=_("lists served"),
        layout=None,
    )
    if not served:
        chart.empty_message = _(
            "No lists were served for %(tenant)s from %(start)s to %(end)s. Lists are logged when clients call "
            "GET /api/v1/users/<id>/recommendations, /items/<id>/similar or /search; pick a wider range if they did earlier."
        ) % {"tenant": tenant.slug, "start": days.first.isoformat(), "end": days.last.isoformat()}
        return chart

    series = []
    for strategy_id, rows in _by_strategy(served, names).items():
        points = []
        for day in days.days:
            count = rows[day].served if day in rows else 0
            points.append(Point(_noon(day), count, f"{_day_label(day)}: {names[strategy_id]} {format_value(count, ValueFormat.COUNT)}"))
        series.append(Series(names[strategy_id], points))
    chart.layout = layout_chart(series, days.start, days.end, ValueFormat.COUNT)
    _served_table(chart, served, names)
    return chart


def _served_table(chart: Chart, served: list[data.ServedDay], names: dict) -> None:
    chart.table_headers = [_("day"), _("strategy"), _("lists served"), _("lists clicked"), _("click-through")]
    for row in sorted(served, key=lambda row: (row.day, names.get(row.strategy_id, ""))):
        chart.table_rows.append(
            [
                (_day_label(row.day), False),
                (names[row.strategy_id], False),
                (format_value(row.served, ValueFormat.COUNT), True),
                (format_value(row.clicked, ValueFormat.COUNT), True),
                (format_value(row.click_through, ValueFormat.PERCENT), True),
            ]
        )


def click_through_chart(days: data.DateRange, served: list[data.ServedDay], names: dict) -> Chart:
    kinds = ", ".join(str(EventKind(kind).label) for kind in data.ATTRIBUTED_KINDS)
    chart = Chart(
        slug="click-through",
        title=_("Click-through per strategy"),
        definition=_(
            "Click-through on a day is the share of the lists a strategy served that day that at least one event "
            "cites: an event of kind %(kinds)s, of the same tenant, whose recommendation_id is the id of the served "
            "list, at any time after it. Days without served lists have no point. Lists served near the end of the "
            "range can still be clicked later, so their click-through can rise."
        ) % {"kinds": kinds},
        x_label=_x_label(),
        y_label=_("click-through"),
        layout=None,
    )
    if not served:
        chart.empty_message = _("No lists were served in this range, so there is no click-through to show.")
        return chart

    series = []
    for strategy_id, rows in _by_strategy(served, names).items():
        points = [
            Point(
                _noon(day),
                row.click_through,
                _("%(day)s: %(strategy)s %(rate)s (%(clicked)s of %(served)s lists)")
                % {
                    "day": _day_label(day),
                    "strategy": names[strategy_id],
                    "rate": format_value(row.click_through, ValueFormat.PERCENT),
                    "clicked": row.clicked,
                    "served": row.served,
                },
            )
            for day, row in sorted(rows.items())
        ]
        series.append(Series(names[strategy_id], points, max_gap=timedelta(days=1)))
    chart.layout = layout_chart(series, days.start, days.end, ValueFormat.PERCENT)
    _served_table(chart, served, names)
    if not any(row.clicked for row in served):
        chart.note = _(
            "No event cites any of these lists. To measure click-through, clients send the recommendation_id of the "
            "API response with the click, add-to-cart, purchase or like event."
        )
    return chart


def offline_chart(tenant: Tenant, days: data.DateRange, metric: str, k: int) -> Chart:
    metric_label = str(EvaluationResult._meta.get_field(metric).verbose_name)
    results = data.offline_results(tenant, days, k)
    chart = Chart(
        slug="offline",
        title=_("Offline %(metric)s@%(k)s per model version") % {"metric": metric_label, "k": k},
        definition=_(
            "One point per evaluation result at cut-off K, placed at the time the evaluation finished, with one line "
            "per strategy and split. The model version is the fingerprint of the strategy's plugins, their versions "
            "and configuration when evaluated; results on validation splits are left out."
        ),
        x_label=_x_label(),
        y_label=f"{metric_label}@{k}",
        layout=None,
    )
    if not results:
        chart.empty_message = _offline_empty_message(tenant, days, k)
        return chart

    grouped: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for result in results:
        value = getattr(result, metric)
        protocol = str(SplitProtocol(result.protocol).label)
        tooltip = _("%(time)s: %(strategy)s, %(protocol)s, model version %(version)s: %(value)s") % {
            "time": date_format(timezone.localtime(result.created_at), "SHORT_DATETIME_FORMAT"),
            "strategy": result.strategy.name,
            "protocol": protocol,
            "version": result.model_version[:12],
            "value": format_value(value, ValueFormat.DECIMAL),
        }
        grouped[(result.strategy.name, protocol)].append(Point(result.created_at, value, tooltip))
    series = [Series(f"{strategy} · {protocol}", points) for (strategy, protocol), points in sorted(grouped.items())]
    chart.layout = layout_chart(series, days.start, days.end, ValueFormat.DECIMAL)
    chart.table_headers = [_("evaluated at"), _("strategy"), _("split"), _("model version"), _("users evaluated"), f"{metric_label}@{k}"]
    for result in results:
        chart.table_rows.append(
            [
                (date_format(timezone.localtime(result.created_at), "SHORT_DATETIME_FORMAT"), False),
                (result.strategy.name, False),
                (str(SplitProtocol(result.protocol).label), False),
                (result.model_version, False),
                (format_value(result.users, ValueFormat.COUNT), True),
                (format_value(getattr(result, metric), ValueFormat.DECIMAL), True),
            ]
        )
    return chart


def _offline_empty_message(tenant: Tenant, days: data.DateRange, k: int) -> str:
    message = _(
        "No evaluation results at K=%(k)s for %(tenant)s from %(start)s to %(end)s. Start an evaluation under "
        "Evaluation › Leaderboard › Evaluate strategies, or with manage.py evaluate."
    ) % {"k": k, "tenant": tenant.slug, "start": days.first.isoformat(), "end": days.last.isoformat()}
    others = [str(cutoff) for cutoff in data.offline_cutoffs(tenant) if cutoff != k]
    if others:
        message += " " + _("Results exist at K = %(cutoffs)s.") % {"cutoffs": ", ".join(others)}
    return message
