"""Custom admin pages of strategies: the installed plugins and the "Try it" preview."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from semrec.catalog.models import Event, User
from semrec.plugins import PluginError, get_registry
from semrec.plugins.registry import FAMILY_HOOKS
from semrec.recommend.models import Recommendation
from semrec.recommend.service import StrategyNotFound, recommend_for_user
from semrec.tenants.admin_scope import scope_queryset

from .models import SLOTS, Strategy

logger = logging.getLogger(__name__)

FAMILY_TITLES = {
    "encoder": gettext_lazy("Encoders"),
    "intent_model": gettext_lazy("Intent models"),
    "scorer": gettext_lazy("Scorers"),
    "explainer": gettext_lazy("Explainers"),
}
HISTORY_LENGTH = 20


@dataclass
class PluginRow:
    """One installed plugin and the strategies that use it."""

    id: str
    label: str
    description: str
    version: str
    package: str
    strategies: list[Strategy] = field(default_factory=list)


@dataclass
class MissingPlugin:
    """A plugin that a strategy names but no installed package registers."""

    strategy: Strategy
    slot: str
    family: str
    plugin_id: str


def _plugin_uses(strategy: Strategy) -> list[tuple[str, str, str]]:
    """Return (slot label, family, plugin id) for every plugin the strategy names, hybrid parts included."""
    uses = []
    registry = get_registry()
    for slot in SLOTS:
        plugin_id = strategy.plugin_id(slot)
        if not plugin_id:
            continue
        label = str(Strategy._meta.get_field(f"{slot.field}_id").verbose_name)
        uses.append((label, slot.family, plugin_id))
        if slot.family != "scorer" or plugin_id not in registry.ids("scorer"):
            continue
        try:
            cls = registry.get("scorer", plugin_id)
            parts = cls.sub_scorers(cls.validate_config(strategy.plugin_config(slot)))
        except PluginError:
            continue  # An invalid configuration is reported on the strategy's own page.
        uses.extend((f"{label} → {ref.id}", "scorer", ref.id) for ref in parts)
    return uses


def plugin_inventory(strategies: list[Strategy]) -> tuple[dict[str, list[PluginRow]], list[MissingPlugin]]:
    """Return the installed plugins by family with the strategies using each, and the missing ones."""
    registry = get_registry()
    families = {
        family: {
            cls.id: PluginRow(cls.id, str(cls.label), str(cls.description), cls.version, registry.source_of(cls))
            for cls in registry.classes(family)
        }
        for family in FAMILY_HOOKS
    }
    missing = []
    for strategy in strategies:
        for slot_label, family, plugin_id in _plugin_uses(strategy):
            row = families[family].get(plugin_id)
            if row is None:
                missing.append(MissingPlugin(strategy, slot_label, family, plugin_id))
            elif strategy not in row.strategies:
                row.strategies.append(strategy)
    return {family: list(rows.values()) for family, rows in families.items()}, missing


def installed_plugins_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    strategies = list(model_admin.get_queryset(request).select_related("tenant").order_by("tenant__slug", "name"))
    families, missing = plugin_inventory(strategies)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Installed plugins"),
        "families": [(FAMILY_TITLES[family], rows) for family, rows in families.items()],
        "missing": missing,
    }
    return TemplateResponse(request, "admin/strategies/strategy/plugins.html", context)


class TryItForm(forms.Form):
    """The user, query and one or two strategies of a recommendation preview."""

    user = forms.ModelChoiceField(
        queryset=User.objects.none(), label=gettext_lazy("User"), help_text=gettext_lazy("Type to search by external id.")
    )
    query = forms.CharField(
        label=gettext_lazy("Query"), required=False, max_length=1000, help_text=gettext_lazy("Optional search text that steers the list.")
    )
    strategy = forms.ModelChoiceField(queryset=Strategy.objects.none(), label=gettext_lazy("Strategy"))
    compare_with = forms.ModelChoiceField(
        queryset=Strategy.objects.none(),
        label=gettext_lazy("Compare with"),
        required=False,
        help_text=gettext_lazy("A second strategy of the same tenant, shown side by side."),
    )
    n = forms.IntegerField(label=gettext_lazy("Number of items"), initial=10, min_value=1, max_value=100)

    def __init__(self, *args, request, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        user_field = self.fields["user"]
        # The widget searches through the catalogue's user admin, which applies the same tenant scope.
        # It is set before the queryset, because setting the queryset hands its choices to the widget.
        user_field.widget = AutocompleteSelect(Recommendation._meta.get_field("user"), admin_site)
        user_field.queryset = scope_queryset(User.objects.select_related("tenant"), request)
        strategies = scope_queryset(Strategy.objects.select_related("tenant").order_by("tenant__slug", "name"), request)
        self.fields["strategy"].queryset = strategies
        self.fields["compare_with"].queryset = strategies

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user")
        for name in ("strategy", "compare_with"):
            strategy = cleaned.get(name)
            if user is not None and strategy is not None and strategy.tenant_id != user.tenant_id:
                message = _("Strategy %(strategy)s belongs to another tenant than user %(user)s. Pick a strategy of tenant %(tenant)s.")
                self.add_error(name, message % {"strategy": strategy, "user": user.external_id, "tenant": user.tenant.slug})
        return cleaned


def preview(strategy: Strategy, user: User, query: str, n: int) -> dict[str, Any]:
    """Recommend for ``user`` with ``strategy`` and drop the logged list, so that a preview is not counted as served."""
    try:
        result = recommend_for_user(strategy.tenant, user, n=n, explain=True, strategy_name=strategy.name, query=query or None)
    except StrategyNotFound as err:
        return {"strategy": strategy, "error": str(err)}
    Recommendation.objects.filter(pk=result.id).delete()
    logger.info("Previewed strategy %s of tenant %s for user %s in the admin", strategy.pk, strategy.tenant_id, user.pk)
    return {"strategy": strategy, "items": result.items, "intent": result.intent, "fell_back": result.fell_back, "notes": result.notes}


def recent_history(user: User) -> list[Event]:
    return list(Event.objects.filter(user=user).select_related("item").order_by("-timestamp")[:HISTORY_LENGTH])


def try_it_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    data = request.GET if "user" in request.GET else None
    initial = {"strategy": request.GET.get("strategy")} if data is None else None
    form = TryItForm(data, initial=initial, request=request, admin_site=model_admin.admin_site)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Try it"),
        "form": form,
        "media": model_admin.media + form.media,
    }
    if data is not None and form.is_valid():
        user, query, n = form.cleaned_data["user"], form.cleaned_data["query"], form.cleaned_data["n"]
        chosen = [form.cleaned_data["strategy"], form.cleaned_data["compare_with"]]
        context["previews"] = [preview(strategy, user, query, n) for strategy in chosen if strategy is not None]
        context["history"] = recent_history(user)
        context["preview_user"] = user
    return TemplateResponse(request, "admin/strategies/strategy/try.html", context)
