"""Offline evaluation results: one row per strategy, model version, split and cut-off K."""

from __future__ import annotations

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun

from .protocol import SplitProtocol


class EvaluationResult(models.Model):
    """The metrics of one strategy at one cut-off K, from one evaluation run."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="evaluation_results", verbose_name=_("tenant"))
    strategy = models.ForeignKey(
        Strategy, on_delete=models.CASCADE, related_name="evaluation_results", verbose_name=_("strategy")
    )
    run = models.ForeignKey(
        TrainingRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluation_results", verbose_name=_("run")
    )
    # NOTE: evaluation fits its own models on the training part and does not store them. This
    # fingerprint identifies the evaluated configuration and plugin versions, not a ModelVersion row.
    model_version = models.CharField(
        _("model version"),
        max_length=64,
        help_text=_("Fingerprint of the strategy's plugins, their versions, configuration and options when evaluated."),
    )
    plugin_versions = models.JSONField(_("plugin versions"), default=dict, blank=True)
    protocol = models.CharField(_("split"), max_length=30, choices=SplitProtocol.choices)
    train_ratio = models.FloatField(_("training share"), null=True, blank=True)
    seed = models.PositiveIntegerField(_("seed"))
    validation = models.BooleanField(
        _("validation split"), default=False, help_text=_("Measured on a validation split carved from the training part.")
    )
    min_rating = models.FloatField(_("minimum relevant rating"), null=True, blank=True)
    k = models.PositiveIntegerField(_("K"))
    users = models.PositiveIntegerField(_("users evaluated"))
    precision = models.FloatField(_("precision"))
    recall = models.FloatField(_("recall"))
    ndcg = models.FloatField(_("nDCG"))
    map = models.FloatField(_("MAP"))
    mrr = models.FloatField(_("MRR"))
    hit_rate = models.FloatField(_("hit rate"))
    coverage = models.FloatField(_("catalogue coverage"))
    diversity = models.FloatField(_("intra-list diversity"), null=True, blank=True)
    novelty = models.FloatField(_("novelty (bits)"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evaluation result")
        verbose_name_plural = _("leaderboard")
        ordering = ["-created_at", "k"]
        indexes = [models.Index(fields=["tenant", "protocol", "k"], name="evaluation_result_board")]

    def __str__(self) -> str:
        return f"{self.strategy} {self.model_version} {self.protocol} nDCG@{self.k} {self.ndcg:.4f}"


def promote_to_default(strategy: Strategy) -> None:
    """Make ``strategy`` its tenant's default, atomically."""
    with transaction.atomic():
        Strategy.objects.filter(tenant_id=strategy.tenant_id, is_default=True).exclude(pk=strategy.pk).update(is_default=False)
        Strategy.objects.filter(pk=strategy.pk).update(is_default=True)
    strategy.is_default = True
