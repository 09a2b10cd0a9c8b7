"""Changelist pagination and search bar that show "about N" when the count is the planner's estimate."""

from django import template
from django.contrib.admin.templatetags.admin_list import pagination, search_form
from django.utils.formats import number_format

register = template.Library()


def _count_context(cl) -> dict:
    lower_bound = getattr(cl.paginator, "lower_bound", False)
    return {
        "estimated": getattr(cl.paginator, "estimated", False),
        "lower_bound": lower_bound,
        # With a lower bound the count includes the first row of the next page.
        "count_display": number_format(cl.result_count - 1 if lower_bound else cl.result_count, force_grouping=True),
    }


@register.inclusion_tag("admin/insights/pagination.html")
def estimated_pagination(cl):
    return {**pagination(cl), **_count_context(cl)}


@register.inclusion_tag("admin/insights/search_form.html")
def estimated_search_form(cl):
    context = {**search_form(cl), **_count_context(cl)}
    # Django shows the result count whenever there is no full count; only a search or a filter needs it.
    context["show_result_count"] = bool(cl.query) or cl.has_active_filters
    return context
