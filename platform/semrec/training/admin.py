"""Training runs with live progress, model versions with activation and roll-back, and training schedules."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from semrec.tenants.admin_scope import TenantScopedAdminMixin

from .models import ModelVersion, TrainingRun, TrainingSchedule, stage_label
from .versions import VersionError, activate, rollback

logger = logging.getLogger(__name__)

RUNS_CSS = forms.Media(css={"all": ["semrec/training/runs.css"]})
FINISHED = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)


# Durations, timings and the progress state of a run.


def format_duration(seconds: float | None) -> str:
    """Return ``seconds`` as "4.2 s", "3 min 05 s" or "2 h 10 min"; "" for None."""
    if seconds is None:
        return ""
    if seconds < 60:
        return _("%(seconds).1f s") % {"seconds": seconds}
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": rest}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _display_time(moment: datetime | None) -> str:
    # Seconds matter on a run's page, and Django's default DATETIME_FORMAT leaves them out.
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i:s") if moment else ""


def run_timings(run: TrainingRun, now: datetime) -> dict:
    """Return the seconds a run waited in the queue and ran; an unfinished phase counts up to ``now``."""
    queued_until = run.started_at or (now if run.status == TrainingRun.Status.QUEUED else run.finished_at)
    ran_until = run.finished_at or (now if run.status == TrainingRun.Status.RUNNING else None)
    return {
        "queued_seconds": _seconds(run.created_at, queued_until),
        "running_seconds": _seconds(run.started_at, ran_until),
        "total_seconds": _seconds(run.created_at, run.finished_at),
    }


def display_percent(run: TrainingRun) -> float:
    """Return the share of the run done, in percent: a succeeded run is complete whatever its last stage counted."""
    if run.status == TrainingRun.Status.SUCCEEDED:
        return 100.0
    return round(min(run.percent, 100.0), 1)


def versions_of_run(run: TrainingRun) -> list[ModelVersion]:
    """Return the model versions whose ids the run's result names: the fitted encoder, the trained roles."""
    result = run.result if isinstance(run.result, dict) else {}
    ids = [entry.get("model_version") for entry in result.get("trained", []) if isinstance(entry, dict)]
    # An evaluation's result names a fingerprint string here, and an encode run names an id only for a fit.
    if run.kind == TrainingRun.Kind.ENCODE and result.get("fitted"):
        ids.append(result.get("model_version"))
    ids = [value for value in ids if isinstance(value, int)]
    if not ids:
        return []
    return list(ModelVersion.objects.filter(pk__in=ids, strategy_id=run.strategy_id).order_by("pk"))


def run_producing(version: ModelVersion) -> TrainingRun | None:
    """Return the training run whose result names ``version``, or None (runs may have been deleted)."""
    named = Q(result__trained__contains=[{"model_version": version.pk}]) | Q(
        kind=TrainingRun.Kind.ENCODE, result__fitted=True, result__model_version=version.pk
    )
    return TrainingRun.objects.filter(named, strategy_id=version.strategy_id).order_by("pk").first()


def metric_rows(metrics: dict) -> list[tuple[str, str]]:
    """Return (name, value) pairs for display: floats with four significant digits, nested values as JSON."""
    rows = []
    for name, value in (metrics or {}).items():
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        rows.append((str(name), text))
    return rows


def run_result_context(run: TrainingRun) -> dict:
    """Return the template context of a run's result: versions produced, skipped roles, evaluation metrics."""
    result = run.result if isinstance(run.result, dict) else {}
    versions = [
        {"version": version, "metrics": metric_rows(version.metrics), "url": reverse("admin:training_modelversion_change", args=[version.pk])}
        for version in versions_of_run(run)
    ]
    evaluation = None
    if run.kind == TrainingRun.Kind.EVALUATE and isinstance(result.get("metrics"), dict):
        evaluation = {
            "cutoffs": [(k, metric_rows(values)) for k, values in result["metrics"].items() if isinstance(values, dict)],
            "url": reverse("admin:evaluation_evaluationresult_changelist") + f"?strategy__id__exact={run.strategy_id}",
        }
    return {
        "run": run,
        "finished": run.status in FINISHED,
        "versions": versions,
        "skipped": [entry for entry in result.get("skipped", []) if isinstance(entry, dict)],
        "evaluation": evaluation,
        "result_json": json.dumps(result, indent=2, ensure_ascii=False, sort_keys=True) if result else "",
    }


def run_state(run: TrainingRun, request) -> dict:
    """Return everything the run page shows about a run, as the JSON the page polls."""
    now = timezone.now()
    timings = run_timings(run, now)
    percent = display_percent(run)
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": capfirst(run.get_status_display()),
        "finished": run.status in FINISHED,
        "stage": stage_label(run.stage),
        "done": run.done,
        "total": run.total,
        "percent": percent,
        "percent_display": f"{percent:.1f} %",
        "eta_seconds": run.eta_seconds,
        "eta": format_duration(run.eta_seconds),
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "created_at_display": _display_time(run.created_at),
        "started_at_display": _display_time(run.started_at),
        "finished_at_display": _display_time(run.finished_at),
        **timings,
        "queued_display": format_duration(timings["queued_seconds"]),
        "running_display": format_duration(timings["running_seconds"]),
        "total_display": format_duration(timings["total_seconds"]),
        "error": run.error,
        "result_html": render_to_string("admin/training/trainingrun/result.html", run_result_context(run), request=request),
    }


def status_badge(run: TrainingRun) -> str:
    return format_html('<span class="semrec-status semrec-status-{}">{}</span>', run.status, capfirst(run.get_status_display()))


def progress_bar(run: TrainingRun) -> str:
    """Return a small progress bar with the stage and the done/total count below it."""
    percent = display_percent(run)
    caption = f"{stage_label(run.stage)}: {run.done}/{run.total}" if run.stage else f"{run.done}/{run.total}"
    return format_html(
        '<div class="semrec-progress semrec-progress-{}" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="{}">'
        '<div class="semrec-progress-bar" style="width: {}%"></div></div><div class="semrec-progress-caption">{} · {}</div>',
        run.status, f"{percent:.0f}", f"{percent:.1f}", caption, f"{percent:.0f} %",
    )


def _post_only(request):
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


# Training runs.


@admin.register(TrainingRun)
class TrainingRunAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/training/trainingrun/change_form.html"
    list_display = ["id", "kind", "strategy", "status_column", "progress_column", "created_at", "duration_column"]
    list_display_links = ["id", "kind"]
    list_filter = ["tenant", "kind", "status", "strategy"]
    search_fields = ["strategy__name", "stage", "error"]
    readonly_fields = [field.name for field in TrainingRun._meta.fields]
    list_select_related = ["strategy__tenant"]

    @property
    def media(self):
        return super().media + RUNS_CSS

    def has_add_permission(self, request):
        # Runs are started from strategies (buttons and actions), commands and schedules.
        return False

    def has_change_permission(self, request, obj=None):
        # A run is a record of a job: viewed and deleted, never edited.
        return False

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_column(self, run):
        return status_badge(run)

    @admin.display(description=gettext_lazy("progress"))
    def progress_column(self, run):
        return progress_bar(run)

    @admin.display(description=gettext_lazy("duration"))
    def duration_column(self, run):
        return format_duration(run_timings(run, timezone.now())["running_seconds"]) or "-"

    def get_urls(self):
        urls = [
            path("<path:object_id>/progress/", self.admin_site.admin_view(self.progress_view), name="training_trainingrun_progress"),
        ]
        return urls + super().get_urls()

    def progress_view(self, request, object_id):
        """Return the run's state as JSON for the run page to poll."""
        run = self.get_object(request, unquote(object_id))
        if run is None:
            raise Http404(_("Training run %(id)s not found.") % {"id": object_id})
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        # admin_view marks the response never-cache, so every poll reaches the database.
        return JsonResponse(run_state(run, request))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, unquote(object_id))
        extra = {}
        if run is not None and self.has_view_permission(request, run):
            # The status changes while the page is open, so the title leaves it out.
            label = _("%(kind)s of %(strategy)s, run %(id)s") % {"kind": capfirst(run.get_kind_display()), "strategy": run.strategy, "id": run.pk}
            extra = {
                "subtitle": label,
                "run_label": label,
                "state": run_state(run, request),
                "progress_url": reverse("admin:training_trainingrun_progress", args=[run.pk]),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


# Model versions.


@admin.register(ModelVersion)
class ModelVersionAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/training/modelversion/change_form.html"
    list_display = ["id", "strategy", "role_column", "is_active", "metrics_column", "created_at"]
    list_display_links = ["id", "strategy"]
    list_filter = ["tenant", "is_active", "plugin_id", "strategy"]
    search_fields = ["strategy__name", "plugin_id", "role"]
    list_select_related = ["strategy__tenant"]
    actions = ["activate_selected", "roll_back_selected"]
    fields = ["tenant", "strategy", "role", "plugin_id", "plugin_version", "is_active", "activated_at", "metrics_table", "produced_by", "created_at"]
    # Activation goes through the buttons and actions, which keep one active version per role.
    readonly_fields = fields

    @property
    def media(self):
        return super().media + RUNS_CSS

    def has_add_permission(self, request):
        return False

    @admin.display(description=gettext_lazy("role"), ordering="role")
    def role_column(self, version):
        # Roles end in a configuration hash ("scorer:ease:1a2b…"); the list shows family and plugin.
        return ":".join(version.role.split(":")[:2])

    @admin.display(description=gettext_lazy("metrics"))
    def metrics_column(self, version):
        # The list shows the first three plain numbers; the version's page shows every metric.
        scalars = {name: value for name, value in (version.metrics or {}).items() if isinstance(value, (int, float))}
        rows = metric_rows(scalars)[:3]
        return format_html_join(", ", "{}={}", rows) if rows else "-"

    @admin.display(description=gettext_lazy("metrics"))
    def metrics_table(self, version):
        rows = metric_rows(version.metrics)
        if not rows:
            return "-"
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        return format_html('<table class="semrec-metrics">{}</table>', body)

    @admin.display(description=gettext_lazy("produced by"))
    def produced_by(self, version):
        run = run_producing(version)
        if run is None:
            return "-"
        url = reverse("admin:training_trainingrun_change", args=[run.pk])
        return format_html('<a href="{}">{}</a>', url, _("Training run %(id)s (%(kind)s)") % {"id": run.pk, "kind": run.get_kind_display()})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, unquote(object_id))
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self):
        wrap = self.admin_site.admin_view
        urls = [
            path("<path:object_id>/activate/", wrap(self.activate_view), name="training_modelversion_activate"),
            path("<path:object_id>/rollback/", wrap(self.roll_back_view), name="training_modelversion_rollback"),
        ]
        return urls + super().get_urls()

    def _changeable_version(self, request, object_id) -> ModelVersion:
        version = self.get_object(request, unquote(object_id))
        if version is None:
            raise Http404(_("Model version %(id)s not found.") % {"id": object_id})
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        return version

    def activate_view(self, request, object_id):
        rejection = _post_only(request)
        if rejection:
            return rejection
        version = self._changeable_version(request, object_id)
        self._activate(request, version)
        return HttpResponseRedirect(reverse("admin:training_modelversion_change", args=[version.pk]))

    def roll_back_view(self, request, object_id):
        rejection = _post_only(request)
        if rejection:
            return rejection
        version = self._changeable_version(request, object_id)
        now_active = self._roll_back(request, version)
        target = now_active or version
        return HttpResponseRedirect(reverse("admin:training_modelversion_change", args=[target.pk]))

    @admin.action(description=gettext_lazy("Activate the selected versions"), permissions=["change"])
    def activate_selected(self, request, queryset):
        versions = list(queryset.select_related("strategy__tenant").order_by("pk"))
        groups: dict[tuple[int, str], list[ModelVersion]] = {}
        for version in versions:
            groups.setdefault((version.strategy_id, version.role), []).append(version)
        for group in groups.values():
            if len(group) > 1:
                ids = ", ".join(str(version.pk) for version in group)
                message = _("Versions %(ids)s are of the same strategy and role, and only one of them can be active. Select one of them.")
                self.message_user(request, message % {"ids": ids}, messages.ERROR)
                continue
            self._activate(request, group[0])

    @admin.action(description=gettext_lazy("Roll back to the previous version"), permissions=["change"])
    def roll_back_selected(self, request, queryset):
        seen = set()
        for version in queryset.select_related("strategy__tenant").order_by("pk"):
            if (version.strategy_id, version.role) in seen:
                continue
            seen.add((version.strategy_id, version.role))
            self._roll_back(request, version)

    def _activate(self, request, version: ModelVersion) -> None:
        if version.is_active:
            self.message_user(request, _("Version %(id)s of %(strategy)s is already active.") % _describe(version), messages.INFO)
            return
        activate(version)
        logger.info("Model version %s (strategy %s, role %s) activated in the admin by user %s", version.pk, version.strategy_id, version.role, request.user.pk)
        message = _("Version %(id)s of %(strategy)s (%(plugin)s) is now active; serving loads it within %(seconds)g seconds.")
        values = {**_describe(version), "seconds": settings.SEMREC_RUNTIME_REFRESH_SECONDS}
        self.message_user(request, message % values, messages.SUCCESS)

    def _roll_back(self, request, version: ModelVersion) -> ModelVersion | None:
        replaced = ModelVersion.objects.filter(strategy_id=version.strategy_id, role=version.role, is_active=True).first()
        try:
            previous = rollback(version.strategy, version.role)
        except VersionError as err:
            self.message_user(request, str(err), messages.ERROR)
            return None
        logger.info(
            "Strategy %s role %s rolled back from model version %s to %s in the admin by user %s",
            version.strategy_id, version.role, replaced.pk, previous.pk, request.user.pk,
        )
        message = _("Rolled %(strategy)s (%(plugin)s) back from version %(from)s to version %(to)s.")
        self.message_user(request, message % {**_describe(previous), "from": replaced.pk, "to": previous.pk}, messages.SUCCESS)
        return previous


def _describe(version: ModelVersion) -> dict:
    return {"id": version.pk, "strategy": str(version.strategy), "plugin": version.plugin_id}


# Training schedules.


@admin.register(TrainingSchedule)
class TrainingScheduleAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "strategy__tenant"
    list_display = ["strategy", "kind", "interval_hours", "enabled", "last_queued_at", "next_due_column"]
    list_display_links = ["strategy"]
    list_editable = ["interval_hours", "enabled"]
    list_filter = ["strategy__tenant", "kind", "enabled"]
    search_fields = ["strategy__name", "strategy__tenant__slug"]
    list_select_related = ["strategy__tenant"]
    fields = ["strategy", "kind", "interval_hours", "enabled", "last_queued_at"]
    readonly_fields = ["last_queued_at"]

    @admin.display(description=gettext_lazy("next due"))
    def next_due_column(self, schedule):
        if not schedule.enabled:
            return _("disabled")
        if schedule.last_queued_at is None:
            return _("at the next check")
        return _display_time(schedule.last_queued_at + timedelta(hours=schedule.interval_hours))
