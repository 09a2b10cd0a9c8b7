"""Trained artefacts (model versions) and background jobs (training runs)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant


class ModelVersion(models.Model):
    """The trained state of one plugin role in one strategy; one per role is active."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="model_versions", verbose_name=_("tenant"))
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="model_versions", verbose_name=_("strategy"))
    role = models.CharField(_("role"), max_length=200)
    plugin_id = models.CharField(_("plugin"), max_length=100)
    plugin_version = models.CharField(_("plugin version"), max_length=50)
    # NOTE: artefacts live in the database so every web and worker host can
    # read them without shared storage. Very large models will need object storage.
    artifact = models.BinaryField(_("artefact"))
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(
        _("last activated at"), null=True, blank=True, help_text=_("Empty for a version that was never active.")
    )

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "role"], condition=models.Q(is_active=True), name="training_modelversion_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} {self.plugin_id} #{self.pk}"

    def activate(self) -> None:
        """Make this the active version of its role, atomically."""
        now = timezone.now()
        with transaction.atomic():
            ModelVersion.objects.filter(strategy=self.strategy, role=self.role, is_active=True).exclude(pk=self.pk).update(is_active=False)
            ModelVersion.objects.filter(pk=self.pk).update(is_active=True, activated_at=now)
            self.is_active, self.activated_at = True, now


#: Labels of the fixed stage names that jobs store in TrainingRun.stage.
STAGE_LABELS = {
    "encode items": _("encode items"),
    "rebuild user vectors": _("rebuild user vectors"),
    "load interactions": _("load interactions"),
    "load events": _("load events"),
    "build intent examples": _("build intent examples"),
    "rank items": _("rank items"),
    "activate": _("activate"),
}
#: Labels of the stages named after a plugin, such as "train softmax", by their first word.
PLUGIN_STAGE_LABELS = {
    "train": _("train %(plugin)s"),
    "fit": _("fit %(plugin)s"),
}


def stage_label(stage: str) -> str:
    """Return the stored stage name in the active language; an unknown name is returned as it is."""
    if stage in STAGE_LABELS:
        return str(STAGE_LABELS[stage])
    verb, _space, plugin = stage.partition(" ")
    if verb in PLUGIN_STAGE_LABELS and plugin:
        return str(PLUGIN_STAGE_LABELS[verb]) % {"plugin": plugin}
    return stage


class TrainingRun(models.Model):
    """A background job with its status and progress."""

    class Kind(models.TextChoices):
        ENCODE = "encode", _("encode items")
        TRAIN = "train", _("train")
        EVALUATE = "evaluate", _("evaluate")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="training_runs", verbose_name=_("tenant"))
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="training_runs", verbose_name=_("strategy"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(_("stage"), max_length=200, blank=True, default="")
    stage_started_at = models.DateTimeField(_("stage started at"), null=True, blank=True)
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    result = models.JSONField(_("result"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.strategy} ({self.status})"

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Estimated seconds left in the current stage, from its pace so far; None until there is a pace."""
        if self.status != self.Status.RUNNING or self.stage_started_at is None or not self.done or not self.total:
            return None
        elapsed = (timezone.now() - self.stage_started_at).total_seconds()
        return max(0.0, elapsed / self.done * (self.total - self.done))


class RunProgress:
    """Writes a run's progress at most once a second, plus an optional callback."""

    def __init__(self, run: TrainingRun, callback=None, interval: float = 1.0):
        self.run = run
        self.callback = callback
        self.interval = interval
        self._last_write = 0.0

    def stage(self, name: str, total: int) -> None:
        self.run.stage, self.run.done, self.run.total = name, 0, total
        self.run.stage_started_at = timezone.now()
        self._write(force=True)
        if self.callback is not None:
            self.callback(name, 0, total)

    def __call__(self, done: int, total: int) -> None:
        self.run.done, self.run.total = done, total
        self._write(force=done >= total)
        if self.callback is not None:
            self.callback(self.run.stage, done, total)

    def _write(self, force: bool) -> None:
        now = time.monotonic()
        if force or now - self._last_write >= self.interval:
            TrainingRun.objects.filter(pk=self.run.pk).update(
                stage=self.run.stage, stage_started_at=self.run.stage_started_at, done=self.run.done, total=self.run.total
            )
            self._last_write = now


def start_run(run: TrainingRun) -> None:
    run.status, run.started_at, run.error = TrainingRun.Status.RUNNING, timezone.now(), ""
    run.save(update_fields=["status", "started_at", "error"])


def requeue_run(run: TrainingRun, reason: str) -> None:
    """Mark a run queued again because its task will be retried, storing ``reason`` as its error."""
    run.status, run.error = TrainingRun.Status.QUEUED, reason
    run.save(update_fields=["status", "error"])


def finish_run(run: TrainingRun, result: dict | None = None, error: str = "") -> None:
    run.status = TrainingRun.Status.FAILED if error else TrainingRun.Status.SUCCEEDED
    run.error, run.result, run.finished_at = error, result or {}, timezone.now()
    run.save(update_fields=["status", "error", "result", "finished_at"])


class TrainingSchedule(models.Model):
    """A periodic encode or train run of one strategy, sent by Celery beat when it is due."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="training_schedules", verbose_name=_("strategy"))
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=[(TrainingRun.Kind.ENCODE, TrainingRun.Kind.ENCODE.label), (TrainingRun.Kind.TRAIN, TrainingRun.Kind.TRAIN.label)],
    )
    interval_hours = models.PositiveIntegerField(
        _("interval (hours)"), validators=[MinValueValidator(1)], help_text=_("Hours between the starts of two runs.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    last_queued_at = models.DateTimeField(_("last queued at"), null=True, blank=True)

    class Meta:
        verbose_name = _("training schedule")
        verbose_name_plural = _("training schedules")
        ordering = ["strategy", "kind"]
        constraints = [models.UniqueConstraint(fields=["strategy", "kind"], name="training_schedule_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.strategy} every {self.interval_hours}h"

    def is_due(self, now) -> bool:
        return self.last_queued_at is None or now - self.last_queued_at >= timedelta(hours=self.interval_hours)
