"""Strategies in the admin: plugin dropdowns, JSON configuration with schema help, cloning, the default, and runs."""

from __future__ import annotations

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from semrec.tenants.admin_scope import TenantScopedAdminMixin
from semrec.training.models import ModelVersion, TrainingRun

from .admin_forms import StrategyAdminForm
from .admin_views import installed_plugins_view, recent_runs, report_started, runs_page_url, start_run_view, start_runs, try_it_view
from .models import Strategy

logger = logging.getLogger(__name__)

PLUGIN_FIELDSETS = [
    (gettext_lazy("Encoder"), "encoder"),
    (gettext_lazy("Intent model"), "intent_model"),
    (gettext_lazy("Scorer"), "scorer"),
    (gettext_lazy("Fallback scorer"), "fallback_scorer"),
    (gettext_lazy("Explainer"), "explainer"),
]


def clone_name(strategy: Strategy) -> str:
    """Return the first free name ``<name>-copy``, ``<name>-copy-2``, ... in the strategy's tenant."""
    names_in_use = set(Strategy.objects.filter(tenant_id=strategy.tenant_id).values_list("name", flat=True))
    base = f"{strategy.name[:90]}-copy"
    candidate, number = base, 2
    while candidate in names_in_use:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def set_default(strategy: Strategy, is_default: bool) -> None:
    """Make ``strategy`` its tenant's only default, or stop it being the default."""
    with transaction.atomic():
        if is_default:
            Strategy.objects.filter(tenant_id=strategy.tenant_id, is_default=True).exclude(pk=strategy.pk).update(is_default=False)
        Strategy.objects.filter(pk=strategy.pk).update(is_default=is_default)
    strategy.is_default = is_default


@admin.register(Strategy)
class StrategyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = StrategyAdminForm
    change_form_template = "admin/strategies/strategy/change_form.html"
    change_list_template = "admin/strategies/strategy/change_list.html"
    list_display = ["name", "tenant", "is_default", "encoder_id", "scorer_id", "explainer_id", "updated_at"]
    list_filter = ["tenant", "is_default"]
    search_fields = ["name", "tenant__slug"]
    actions = ["clone", "encode_items", "retrain", "evaluate"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "make_default"]}),
        *[(title, {"fields": [f"{slot}_id", f"{slot}_config"]}) for title, slot in PLUGIN_FIELDSETS],
        (gettext_lazy("Options"), {"fields": ["options"], "classes": ["collapse"]}),
    ]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        urls = [
            path("plugins/", wrap(lambda request: installed_plugins_view(self, request)), name="strategies_strategy_plugins"),
            path("try/", wrap(lambda request: try_it_view(self, request)), name="strategies_strategy_try"),
            path(
                "<path:object_id>/start/<str:kind>/",
                wrap(lambda request, object_id, kind: start_run_view(self, request, object_id, kind)),
                name="strategies_strategy_start_run",
            ),
        ]
        return urls + super().get_urls()

    @property
    def media(self):
        return super().media + forms.Media(css={"all": ["semrec/training/runs.css"]})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        strategy = self.get_object(request, unquote(object_id))
        extra = {}
        if strategy is not None:
            extra = {
                "recent_runs": recent_runs(strategy),
                "active_versions": ModelVersion.objects.filter(strategy=strategy, is_active=True).order_by("role"),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def save_model(self, request, obj, form, change):
        make_default = form.cleaned_data.get("make_default", False)
        super().save_model(request, obj, form, change)
        if make_default != obj.is_default:
            set_default(obj, make_default)
            logger.info("Strategy %s of tenant %s default set to %s in the admin", obj.pk, obj.tenant_id, make_default)

    @admin.action(description=gettext_lazy("Clone the selected strategies"), permissions=["add"])
    def clone(self, request, queryset):
        copies = []
        for strategy in queryset:
            copy = Strategy.objects.get(pk=strategy.pk)
            copy.pk, copy.is_default, copy.name = None, False, clone_name(strategy)
            copy.save()
            copies.append(copy.name)
            logger.info("Strategy %s of tenant %s cloned as %s", strategy.pk, strategy.tenant_id, copy.pk)
        message = ngettext("Cloned %(count)d strategy: %(names)s.", "Cloned %(count)d strategies: %(names)s.", len(copies))
        self.message_user(request, message % {"count": len(copies), "names": ", ".join(copies)}, messages.SUCCESS)

    def _start(self, request, queryset, kind: str):
        strategies = [strategy for strategy in queryset.select_related("tenant").order_by("pk") if self.has_change_permission(request, strategy)]
        started = start_runs(strategies, kind)
        report_started(self, request, started)
        return HttpResponseRedirect(runs_page_url(started))

    @admin.action(description=gettext_lazy("Re-encode items"), permissions=["change"])
    def encode_items(self, request, queryset):
        return self._start(request, queryset, TrainingRun.Kind.ENCODE)

    @admin.action(description=gettext_lazy("Retrain"), permissions=["change"])
    def retrain(self, request, queryset):
        return self._start(request, queryset, TrainingRun.Kind.TRAIN)

    @admin.action(description=gettext_lazy("Evaluate"), permissions=["change"])
    def evaluate(self, request, queryset):
        return self._start(request, queryset, TrainingRun.Kind.EVALUATE)
