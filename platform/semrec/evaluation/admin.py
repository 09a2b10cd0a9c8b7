"""The leaderboard: evaluation results with metrics as sortable columns, and starting evaluations."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from semrec.tenants.admin_scope import TenantScopedAdminMixin, scope_queryset
from semrec.training.models import TrainingRun

from .forms import EvaluationForm
from .models import EvaluationResult, promote_to_default
from .runs import enqueue_evaluation

logger = logging.getLogger(__name__)


def _metric_column(field: str, label):
    """Build a changelist column that shows a metric with four decimals and sorts by it."""

    @admin.display(description=label, ordering=field)
    def column(self, result):
        value = getattr(result, field)
        return "-" if value is None else f"{value:.4f}"

    return column


@admin.register(EvaluationResult)
class EvaluationResultAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/evaluation/evaluationresult/change_list.html"
    list_display = [
        "strategy",
        "model_version",
        "protocol",
        "validation",
        "k",
        "ndcg_column",
        "recall_column",
        "precision_column",
        "map_column",
        "mrr_column",
        "hit_rate_column",
        "coverage_column",
        "diversity_column",
        "novelty_column",
        "users",
        "created_at",
    ]
    list_filter = ["tenant", "protocol", "k", "validation", "strategy"]
    ordering = ["-ndcg"]
    actions = ["promote_to_default"]
    readonly_fields = [field.name for field in EvaluationResult._meta.fields]

    ndcg_column = _metric_column("ndcg", gettext_lazy("nDCG"))
    recall_column = _metric_column("recall", gettext_lazy("recall"))
    precision_column = _metric_column("precision", gettext_lazy("precision"))
    map_column = _metric_column("map", gettext_lazy("MAP"))
    mrr_column = _metric_column("mrr", gettext_lazy("MRR"))
    hit_rate_column = _metric_column("hit_rate", gettext_lazy("hit rate"))
    coverage_column = _metric_column("coverage", gettext_lazy("coverage"))
    diversity_column = _metric_column("diversity", gettext_lazy("diversity"))
    novelty_column = _metric_column("novelty", gettext_lazy("novelty"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Results are measurements: they are viewed, filtered and deleted, never edited.
        return False

    def has_promote_permission(self, request) -> bool:
        return request.user.has_perm("strategies.change_strategy")

    def has_evaluate_permission(self, request) -> bool:
        return request.user.has_perm("training.add_trainingrun")

    def get_urls(self):
        urls = [
            path("evaluate/", self.admin_site.admin_view(self.evaluate_view), name="evaluation_evaluationresult_evaluate"),
        ]
        return urls + super().get_urls()

    @admin.action(description=gettext_lazy("Promote the strategy to its tenant's default"), permissions=["promote"])
    def promote_to_default(self, request, queryset):
        strategies = {result.strategy for result in queryset.select_related("strategy__tenant")}
        if len(strategies) != 1:
            self.message_user(request, _("Select results of exactly one strategy to promote it."), messages.ERROR)
            return
        strategy = strategies.pop()
        promote_to_default(strategy)
        logger.info("Strategy %s promoted to default of tenant %s from the leaderboard", strategy.pk, strategy.tenant_id)
        self.message_user(
            request,
            _("Strategy %(strategy)s is now the default of tenant %(tenant)s.") % {"strategy": strategy.name, "tenant": strategy.tenant.slug},
            messages.SUCCESS,
        )

    def evaluate_view(self, request):
        if not self.has_evaluate_permission(request):
            raise PermissionDenied
        form = EvaluationForm(request.POST or None)
        strategies = form.fields["strategies"]
        strategies.queryset = scope_queryset(strategies.queryset, request)
        if request.method == "POST" and form.is_valid():
            runs = enqueue_evaluation(list(form.cleaned_data["strategies"]), form.evaluation_settings())
            self._report_started(request, runs)
            return HttpResponseRedirect(reverse("admin:evaluation_evaluationresult_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Evaluate strategies"),
        }
        return TemplateResponse(request, "admin/evaluation/evaluationresult/evaluate.html", context)

    def _report_started(self, request, runs: list[TrainingRun]) -> None:
        failed = [run for run in runs if run.status == TrainingRun.Status.FAILED]
        for run in failed:
            self.message_user(
                request,
                _("Evaluation of strategy %(strategy)s failed: %(error)s") % {"strategy": run.strategy.name, "error": run.error},
                messages.ERROR,
            )
        finished = [run for run in runs if run.status == TrainingRun.Status.SUCCEEDED]
        if finished:
            message = ngettext(
                "Evaluated %(count)d strategy; its results are below.", "Evaluated %(count)d strategies; their results are below.", len(finished)
            )
            self.message_user(request, message % {"count": len(finished)})
        pending = len(runs) - len(failed) - len(finished)
        if pending:
            message = ngettext(
                "Started evaluating %(count)d strategy in the background; follow it under training runs.",
                "Started evaluating %(count)d strategies in the background; follow them under training runs.",
                pending,
            )
            self.message_user(request, message % {"count": pending})
