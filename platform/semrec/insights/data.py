"""The numbers behind the charts: events per day, served lists and click-through per strategy, offline metrics.

Days are calendar days in the active time zone (settings.TIME_ZONE unless a
request changed it), and a date range includes both its first and last day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from semrec.catalog.models import Event, EventKind
from semrec.evaluation.models import EvaluationResult
from semrec.recommend.models import Recommendation
from semrec.tenants.models import Tenant

#: Event kinds that count as a click on a served list when they cite its recommendation id.
ATTRIBUTED_KINDS = (EventKind.CLICK, EventKind.ADD_TO_CART, EventKind.PURCHASE, EventKind.LIKE)

#: Metrics of EvaluationResult that the offline chart can plot.
OFFLINE_METRICS = ("ndcg", "recall", "precision", "map", "mrr", "hit_rate", "coverage")


@dataclass(frozen=True)
class DateRange:
    """Calendar days from ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]

    @property
    def start(self) -> datetime:
        """Midnight starting ``first`` in the active time zone."""
        return datetime.combine(self.first, time.min, tzinfo=timezone.get_current_timezone())

    @property
    def end(self) -> datetime:
        """Midnight ending ``last`` in the active time zone (excluded)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())


def events_per_day(tenant: Tenant, days: DateRange) -> dict[str, dict[date, int]]:
    """Return {kind: {day: events}} for the kinds that occur in the range."""
    rows = (
        Event.objects.filter(tenant=tenant, timestamp__gte=days.start, timestamp__lt=days.end)
        .annotate(day=TruncDate("timestamp", tzinfo=timezone.get_current_timezone()))
        .values("day", "kind")
        # COUNT(*) rather than COUNT(id): every column the query needs is then in the index on
        # (tenant, kind, timestamp), so PostgreSQL can count from the index alone.
        .annotate(events=Count("*"))
        .order_by()
    )
    counts: dict[str, dict[date, int]] = defaultdict(dict)
    for row in rows:
        counts[row["kind"]][row["day"]] = row["events"]
    return dict(counts)


@dataclass(frozen=True)
class ServedDay:
    """Lists one strategy served on one day, and how many of them got at least one attributed click."""

    strategy_id: int | None
    day: date
    served: int
    clicked: int

    @property
    def click_through(self) -> float:
        return self.clicked / self.served if self.served else 0.0


def served_per_day(tenant: Tenant, days: DateRange) -> list[ServedDay]:
    """Return served lists and clicked lists per strategy and day, by the day the list was served.

    A list counts as clicked when an event of the same tenant, of a kind in
    ATTRIBUTED_KINDS, cites its id in ``recommendation_id``, whenever that
    event happened. Lists served near the end of the range can still gain
    clicks later, so their click-through may rise.
    """
    # An uncorrelated subquery: PostgreSQL reads the tenant's citing events once into a hash
    # table instead of probing the events once per served list.
    cited = Event.objects.filter(tenant=tenant, recommendation_id__isnull=False, kind__in=ATTRIBUTED_KINDS).values("recommendation_id")
    rows = (
        Recommendation.objects.filter(tenant=tenant, created_at__gte=days.start, created_at__lt=days.end)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("strategy_id", "day")
        .annotate(served=Count("pk"), clicked=Count("pk", filter=Q(pk__in=cited)))
        .order_by()
    )
    return [ServedDay(row["strategy_id"], row["day"], row["served"], row["clicked"]) for row in rows]


def offline_results(tenant: Tenant, days: DateRange, k: int) -> list[EvaluationResult]:
    """Return the tenant's evaluation results at cut-off ``k`` created in the range, oldest first.

    Results on validation splits are left out: they measure tuning, not the model.
    """
    return list(
        EvaluationResult.objects.filter(tenant=tenant, k=k, validation=False, created_at__gte=days.start, created_at__lt=days.end)
        .select_related("strategy")
        .order_by("created_at", "pk")
    )


def offline_cutoffs(tenant: Tenant) -> list[int]:
    """Return the cut-offs K the tenant has evaluation results for, ascending."""
    return sorted(set(EvaluationResult.objects.filter(tenant=tenant).values_list("k", flat=True)))
