"""Admin pagination for tables too large to count on every page load.

Django's changelist reads ``count`` from its paginator, and the stock
paginator computes it with ``SELECT COUNT(*)`` over the filtered rows. On a
table of millions of events that scan costs more than the page itself.
``EstimatedCountPaginator`` reads the requested page plus one row instead.
When that page is the last one the count is exact. Otherwise it takes
PostgreSQL's planner estimate (``EXPLAIN``), and the page shows "about N". An
estimate below the rows known to exist gives "more than N" instead, so
"next page" always works.
"""

from __future__ import annotations

import json
import logging

from django.contrib.admin.views.main import PAGE_VAR
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

logger = logging.getLogger(__name__)


def planner_estimate(queryset: QuerySet) -> int:
    """Return PostgreSQL's estimate of the rows ``queryset`` matches, without running it."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def requested_page(request) -> int:
    """Return the changelist page number of ``request``, as Django's ChangeList reads it."""
    try:
        return max(int(request.GET.get(PAGE_VAR, 1)), 1)
    except ValueError:
        return 1


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs COUNT(*): exact on the last page, the planner's estimate before it.

    It serves the requested page from rows it already read.
    A page number past the end gives an empty page instead of an error.
    """

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, page_number: int = 1):
        super().__init__(object_list, per_page, orphans=0, allow_empty_first_page=allow_empty_first_page)
        self.page_number = max(int(page_number), 1)
        #: True when ``count`` is the planner's estimate rather than an exact number.
        self.estimated = False
        #: True when the estimate was below the rows known to exist, so ``count - 1`` is a lower bound.
        self.lower_bound = False

    @cached_property
    def _window(self) -> list:
        """The rows of the requested page plus the first row of the next one."""
        offset = (self.page_number - 1) * self.per_page
        if offset == 0:
            return list(self.object_list[: self.per_page + 1])
        # Skip the offset over keys alone, then load the page with its joins: PostgreSQL
        # would otherwise join every skipped row to its user and item before dropping it.
        keys = list(self.object_list.values_list("pk", flat=True)[offset : offset + self.per_page + 1])
        return list(self.object_list.filter(pk__in=keys)) if keys else []

    @cached_property
    def count(self) -> int:
        offset = (self.page_number - 1) * self.per_page
        rows = len(self._window)
        if 0 < rows <= self.per_page or (rows == 0 and self.page_number == 1):
            return offset + rows
        self.estimated = True
        if rows == 0:
            # Past the end: fewer than ``offset`` rows match, how many is not known without counting.
            return offset
        estimate = planner_estimate(self.object_list)
        if estimate < offset + rows:
            # The statistics are behind: only "more than the rows up to this page" is known.
            self.lower_bound = True
            return offset + rows
        return estimate

    def validate_number(self, number):
        try:
            return super().validate_number(number)
        except EmptyPage:
            number = int(number)
            if number < 1:
                raise
            return number

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if number != self.page_number:
            bottom = (number - 1) * self.per_page
            return self._get_page(list(self.object_list[bottom : bottom + self.per_page]), number, self)
        return self._get_page(self._window[: self.per_page], number, self)


class EstimatedCountAdminMixin:
    """ModelAdmin settings for tables with millions of rows: no COUNT(*) on any list page."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # "Show all" loads every matching row, and with an estimated count it could be millions.
    list_max_show_all = 0
    change_list_template = "admin/insights/estimated_change_list.html"

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page, page_number=requested_page(request))
