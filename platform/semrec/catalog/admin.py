"""The catalogue browser: items, end users and events, scoped to the staff user's tenants.

The event table grows to millions of rows, so no page here counts it: lists
use the planner's estimate (EstimatedCountAdminMixin), sidebar filters show
no counts, and search resolves external ids to keys before touching events.
"""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from semrec.insights.pagination import EstimatedCountAdminMixin
from semrec.insights.vector_status import item_vector_prefetches, item_vector_status, user_vector_prefetches, user_vector_status
from semrec.tenants.admin_scope import TenantScopedAdminMixin, allowed_tenant_ids
from semrec.tenants.models import Tenant

from .models import Event, Item, User, item_text

#: Events shown on an end user's page.
HISTORY_LENGTH = 20


class CatalogueMedia:
    css = {"all": ["insights/admin.css"]}


def _status_summary(statuses) -> str:
    return render_to_string("admin/catalog/vector_status_summary.html", {"statuses": statuses})


def _status_table(statuses, kind: str) -> str:
    return render_to_string("admin/catalog/vector_status_table.html", {"statuses": statuses, "kind": kind})


@admin.register(Item)
class ItemAdmin(TenantScopedAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    Media = CatalogueMedia
    list_display = ["external_id", "text_column", "categories_column", "available", "language", "vectors_column", "tenant", "updated_at"]
    list_filter = ["tenant", "available"]
    list_select_related = ["tenant"]
    search_fields = ["external_id", "title"]
    readonly_fields = ["encoder_text", "vector_status", "text_hash", "created_at", "updated_at"]
    sortable_by = ["external_id", "available", "language", "updated_at"]
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*item_vector_prefetches())

    @admin.display(description=gettext_lazy("text"))
    def text_column(self, item):
        return render_to_string(
            "admin/catalog/item_text_cell.html", {"title": item.title, "description": Truncator(item.description).chars(140)}
        )

    @admin.display(description=gettext_lazy("categories"))
    def categories_column(self, item):
        return ", ".join(item.categories) or "-"

    @admin.display(description=gettext_lazy("vectors"))
    def vectors_column(self, item):
        return _status_summary(item_vector_status(item))

    @admin.display(description=gettext_lazy("text sent to encoders"))
    def encoder_text(self, item):
        return item_text(item.title, item.description, item.tags, item.categories) if item.pk else "-"

    @admin.display(description=gettext_lazy("vector status"))
    def vector_status(self, item):
        if not item.pk:
            return "-"
        return _status_table(item_vector_status(item), "item")


@admin.register(User)
class UserAdmin(TenantScopedAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    Media = CatalogueMedia
    list_display = ["external_id", "tenant", "vectors_column", "created_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["external_id"]
    ordering = ["external_id"]
    readonly_fields = ["vector_status", "recent_history", "created_at"]
    sortable_by = ["external_id", "created_at"]
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*user_vector_prefetches())

    @admin.display(description=gettext_lazy("vectors"))
    def vectors_column(self, user):
        return _status_summary(user_vector_status(user))

    @admin.display(description=gettext_lazy("vector status"))
    def vector_status(self, user):
        if not user.pk:
            return "-"
        return _status_table(user_vector_status(user), "user")

    @admin.display(description=gettext_lazy("recent history"))
    def recent_history(self, user):
        if not user.pk:
            return "-"
        events = list(Event.objects.filter(user_id=user.pk).select_related("item").order_by("-timestamp", "-pk")[:HISTORY_LENGTH])
        all_events_url = reverse("admin:catalog_event_changelist") + f"?user__id__exact={user.pk}"
        return render_to_string(
            "admin/catalog/user_history.html", {"events": events, "limit": HISTORY_LENGTH, "all_events_url": all_events_url}
        )


class TimestampRangeFilter(admin.DateFieldListFilter):
    """The stock date links (today, past 7 days, ...) plus a from/before form, without counts.

    An invalid date in the URL is reported as a message and ignored, instead
    of Django's generic "database error" page.
    """

    template = "admin/catalog/date_range_filter.html"

    def queryset(self, request, queryset):
        bounds = {}
        for lookup in (self.lookup_kwarg_since, self.lookup_kwarg_until):
            raw = self.used_parameters.get(lookup)
            if isinstance(raw, list):
                raw = raw[-1] if raw else None
            if raw in (None, ""):
                continue
            moment = _parse_moment(str(raw))
            if moment is None:
                messages.error(
                    request,
                    _("Ignored the date filter %(name)s=%(value)s: it is not a date. Use the form YYYY-MM-DD, such as 2026-01-31.")
                    % {"name": lookup, "value": raw},
                )
                continue
            bounds[lookup] = moment
        return queryset.filter(**bounds)

    def choices(self, changelist):
        yield from super().choices(changelist)
        # Read by the template to render the from/before form with the other filters kept.
        self.form_hidden = [(name, value) for name, value in changelist.params.items() if not name.startswith(self.field_generic) and name != PAGE_VAR]
        self.form_since = str(self.date_params.get(self.lookup_kwarg_since, ""))[:10]
        self.form_until = str(self.date_params.get(self.lookup_kwarg_until, ""))[:10]


def _parse_moment(raw: str) -> datetime.datetime | None:
    """Parse a date (midnight in the current time zone) or a datetime; None when it is neither."""
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            if day is None:
                return None
            moment = datetime.datetime.combine(day, datetime.time.min)
    except ValueError:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@admin.register(Event)
class EventAdmin(TenantScopedAdminMixin, EstimatedCountAdminMixin, admin.ModelAdmin):
    Media = CatalogueMedia
    list_display = ["timestamp", "kind", "user_column", "item_column", "value", "query_column", "tenant"]
    list_filter = ["tenant", "kind", ("timestamp", TimestampRangeFilter)]
    list_select_related = ["tenant", "user", "item"]
    raw_id_fields = ["user", "item"]
    ordering = ["-timestamp"]
    # Sorting by another column would sort every matching event; these two are served by indexes.
    sortable_by = ["timestamp", "kind"]
    search_fields = ["=user__external_id", "=item__external_id"]
    search_help_text = gettext_lazy("Exact external id of an end user or an item, such as user-42.")
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=gettext_lazy("user"))
    def user_column(self, event):
        return event.user.external_id

    @admin.display(description=gettext_lazy("item"))
    def item_column(self, event):
        if event.item_id is None:
            return "-"
        return f"{event.item.external_id}: {Truncator(event.item.title).chars(60)}"

    @admin.display(description=gettext_lazy("query text"))
    def query_column(self, event):
        return Truncator(event.query).chars(60) or "-"

    def get_search_results(self, request, queryset, search_term):
        """Match the exact external id of a user or an item, looked up by key before filtering events.

        Django's own search joins events to users and items and scans them
        all. Looking the ids up first lets PostgreSQL use the event indexes
        on user and on (tenant, item).
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        tenant_ids = allowed_tenant_ids(request)
        if tenant_ids is None:
            tenant_ids = list(Tenant.objects.values_list("pk", flat=True))
        # Filtering by tenant lets the (tenant, external_id) unique indexes find the rows.
        user_pks = list(User.objects.filter(tenant_id__in=tenant_ids, external_id=term).values_list("pk", flat=True))
        item_pks = list(Item.objects.filter(tenant_id__in=tenant_ids, external_id=term).values_list("pk", flat=True))
        return queryset.filter(Q(user_id__in=user_pks) | Q(item_id__in=item_pks)), False
