"""The charts page, listed in the admin index as Insights › Charts."""

from __future__ import annotations

import logging

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _

from semrec.tenants.admin_scope import scope_queryset
from semrec.tenants.models import Tenant

from .charts import build_charts
from .forms import ChartsForm
from .models import Chart

logger = logging.getLogger(__name__)

#: Charts show event counts, so they need the permission to view events.
REQUIRED_PERMISSION = "catalog.view_event"


@admin.register(Chart)
class ChartAdmin(admin.ModelAdmin):
    """Not a model list: the changelist URL renders the charts of one tenant over a date range."""

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and request.user.has_perm(REQUIRED_PERMISSION)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        return [path("", self.admin_site.admin_view(self.charts_view), name="%s_%s_changelist" % info)]

    def charts_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenants = list(scope_queryset(Tenant.objects.all(), request).order_by("slug"))
        form = ChartsForm(request.GET, tenants)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Charts"),
            "form": form,
            "has_tenants": bool(tenants),
            "charts": [],
            "media": self.media + form.media,
        }
        status = 200
        if tenants and form.is_valid():
            tenant = form.cleaned_data["tenant"]
            context["tenant"] = tenant
            context["date_range"] = form.date_range
            context["charts"] = build_charts(tenant, form.date_range, form.cleaned_data["metric"], form.cleaned_data["k"])
        elif tenants:
            logger.info("Charts request rejected for user %s: %s", request.user.pk, form.errors.as_json())
            status = 400
        return TemplateResponse(request, "admin/insights/charts.html", context, status=status)

    class Media:
        css = {"all": ["insights/admin.css"]}
