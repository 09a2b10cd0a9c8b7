"""Custom admin pages of strategies: the installed plugins, the "Try it" preview, and starting runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kombu.exceptions import OperationalError as BrokerOperationalError

from semrec.catalog.models import Event, User
from semrec.evaluation.protocol import EvaluationSettings
from semrec.evaluation.runs import enqueue_evaluation
from semrec.plugins import PluginError, get_registry
from semrec.plugins.registry import FAMILY_HOOKS
from semrec.recommend.models import Recommendation
from semrec.recommend.service import StrategyNotFound, recommend_for_user
from semrec.tenants.admin_scope import scope_queryset
from semrec.training.models import TrainingRun, finish_run
from semrec.training.runs import BrokerUnavailable, RunFailed, enqueue
from semrec.training.tasks import failure_reason

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


# Starting encode, train and evaluate runs from the strategy page and list.


@dataclass
class StartedRun:
    """A run started from the admin, or the reason it could not start."""

    strategy: Strategy
    run: TrainingRun | None
    error: str = ""


def _start_training(strategy: Strategy, kind: str) -> StartedRun:
    try:
        return StartedRun(strategy, enqueue(strategy, kind))
    except (RunFailed, BrokerUnavailable) as err:
        # The run's row records the error; eager mode executed the job here and it failed.
        return StartedRun(strategy, err.run, err.run.error or str(err))


def _start_evaluations(strategies: list[Strategy]) -> list[StartedRun]:
    """Evaluate the strategies with the default evaluation settings, one task per tenant."""
    started = []
    by_tenant: dict[int, list[Strategy]] = {}
    for strategy in strategies:
        by_tenant.setdefault(strategy.tenant_id, []).append(strategy)
    for group in by_tenant.values():
        runs: list[TrainingRun] = []
        try:
            # The task is sent when this block commits, so a broker failure surfaces here, after the runs exist.
            with transaction.atomic():
                runs = enqueue_evaluation(group, EvaluationSettings())
        except BrokerOperationalError as err:
            logger.error("Evaluation runs of strategies %s could not be queued", [strategy.pk for strategy in group], exc_info=True)
            for run in runs:
                finish_run(run, error=f"Could not send the task to the broker: {failure_reason(err)}")
            started.extend(StartedRun(run.strategy, run, run.error) for run in runs)
            if not runs:
                started.extend(StartedRun(strategy, None, failure_reason(err)) for strategy in group)
            continue
        started.extend(StartedRun(run.strategy, run, run.error if run.status == TrainingRun.Status.FAILED else "") for run in runs)
    return started


def start_runs(strategies: list[Strategy], kind: str) -> list[StartedRun]:
    """Start a run of ``kind`` for each strategy: on the workers, or here in eager mode."""
    if kind == TrainingRun.Kind.EVALUATE:
        started = _start_evaluations(strategies)
    else:
        started = [_start_training(strategy, kind) for strategy in strategies]
    for entry in started:
        logger.info(
            "Admin started %s run %s of strategy %s (tenant %s): %s",
            kind, entry.run and entry.run.pk, entry.strategy.pk, entry.strategy.tenant_id, entry.run and entry.run.status,
        )
    return started


def report_started(model_admin, request, started: list[StartedRun]) -> None:
    """Add one message per run: started in the background, finished, or failed."""
    for entry in started:
        values = {
            "kind": entry.run.get_kind_display() if entry.run else "",
            "strategy": str(entry.strategy),
            "run": entry.run.pk if entry.run else "-",
            "error": entry.error,
        }
        if entry.error:
            model_admin.message_user(request, _("%(kind)s of strategy %(strategy)s failed (training run %(run)s): %(error)s") % values, messages.ERROR)
        elif entry.run.status == TrainingRun.Status.SUCCEEDED:
            model_admin.message_user(request, _("%(kind)s of strategy %(strategy)s finished (training run %(run)s).") % values, messages.SUCCESS)
        else:
            message = _("Started %(kind)s of strategy %(strategy)s in the background (training run %(run)s). Its progress is shown below.")
            model_admin.message_user(request, message % values, messages.SUCCESS)


def runs_page_url(started: list[StartedRun]) -> str:
    """Return the page of the one run started, or the run list filtered to the runs started."""
    ids = [entry.run.pk for entry in started if entry.run is not None]
    if len(ids) == 1:
        return reverse("admin:training_trainingrun_change", args=[ids[0]])
    url = reverse("admin:training_trainingrun_changelist")
    return f"{url}?id__in={','.join(map(str, ids))}" if ids else url


def start_run_view(model_admin, request, object_id: str, kind: str):
    """Start a run of ``kind`` for one strategy (a button on its page) and redirect to the run's page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if kind not in TrainingRun.Kind.values:
        raise Http404(_("Unknown run kind %(kind)r. Use one of: %(kinds)s.") % {"kind": kind, "kinds": ", ".join(TrainingRun.Kind.values)})
    strategy = model_admin.get_object(request, unquote(object_id))
    if strategy is None:
        raise Http404(_("Strategy %(id)s not found.") % {"id": object_id})
    if not model_admin.has_change_permission(request, strategy):
        raise PermissionDenied
    started = start_runs([strategy], kind)
    report_started(model_admin, request, started)
    return HttpResponseRedirect(runs_page_url(started))


def recent_runs(strategy: Strategy, limit: int = 5) -> list[TrainingRun]:
    return list(TrainingRun.objects.filter(strategy=strategy).order_by("-created_at", "-pk")[:limit])
