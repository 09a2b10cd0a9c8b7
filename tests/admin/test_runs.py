"""Starting runs from strategies, the run page with its progress view, model versions and training schedules.

Runs execute eagerly here (no broker is configured), so a started run has
finished by the time the admin redirects to its page.
"""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import constants
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from semrec.strategies.models import Strategy
from semrec.tenants.admin_scope import declare_tenant_path
from semrec.tenants.models import TenantMembership
from semrec.training.models import ModelVersion, TrainingRun, TrainingSchedule

from .conftest import FACTORIES, PASSWORD, make_staff


@pytest.fixture
def ease(catalogue):
    """A quick strategy on the handmade catalogue: lexical encoder, EASE scorer, no intent model."""
    return Strategy.objects.create(
        tenant=catalogue, name="ease", encoder_id="lexical", scorer_id="ease", intent_model_id="", is_default=True
    )


def _start_url(strategy, kind):
    return reverse("admin:strategies_strategy_start_run", args=[strategy.pk, kind])


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


# Buttons and actions on strategies.


def test_retrain_button_runs_and_redirects(staff, ease):
    response = staff.post(_start_url(ease, "train"), follow=True)
    run = TrainingRun.objects.get(strategy=ease)
    assert response.redirect_chain[-1][0] == reverse("admin:training_trainingrun_change", args=[run.pk])
    assert run.kind == TrainingRun.Kind.TRAIN
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert any(f"finished (training run {run.pk})" in message for message in _messages(response))
    version = ModelVersion.objects.get(strategy=ease, is_active=True)
    page = response.content.decode()
    assert reverse("admin:training_modelversion_change", args=[version.pk]) in page, "the run page links the version it produced"


def test_encode_button_fits_encoder(staff, ease):
    staff.post(_start_url(ease, "encode"))
    run = TrainingRun.objects.get(strategy=ease)
    assert run.kind == TrainingRun.Kind.ENCODE
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.result["fitted"] is True
    assert ModelVersion.objects.filter(pk=run.result["model_version"], is_active=True).exists()


def test_evaluate_button_starts_evaluation(staff, ease):
    staff.post(_start_url(ease, "encode"))
    response = staff.post(_start_url(ease, "evaluate"), follow=True)
    run = TrainingRun.objects.get(strategy=ease, kind=TrainingRun.Kind.EVALUATE)
    assert run.kind == TrainingRun.Kind.EVALUATE
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert "?strategy__id__exact=" in response.content.decode(), "the run page links the leaderboard"


def test_failed_run_reported(staff, tenant):
    empty = Strategy.objects.create(tenant=tenant, name="empty", encoder_id="lexical", scorer_id="ease", intent_model_id="")
    response = staff.post(_start_url(empty, "train"), follow=True)
    run = TrainingRun.objects.get(strategy=empty)
    assert run.status == TrainingRun.Status.FAILED
    assert response.redirect_chain[-1][0] == reverse("admin:training_trainingrun_change", args=[run.pk])
    errors = [message for message in _messages(response) if "failed" in message]
    assert errors and "no positive interactions" in errors[0]
    assert "no positive interactions" in response.content.decode()


def test_start_button_rejects_get(staff, ease):
    assert staff.get(_start_url(ease, "train")).status_code == 405
    assert not TrainingRun.objects.exists()


def test_start_button_rejects_unknown_kind(staff, ease):
    assert staff.post(_start_url(ease, "delete-everything")).status_code == 404
    assert not TrainingRun.objects.exists()


def test_start_button_needs_csrf_token(ease, tenant):
    make_staff("csrf-staff", [tenant])
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="csrf-staff", password=PASSWORD)
    assert browser.post(_start_url(ease, "train")).status_code == 403
    assert not TrainingRun.objects.exists()


def test_start_button_hidden_from_other_tenant(staff, other_tenant):
    theirs = FACTORIES[Strategy](other_tenant)
    assert staff.post(_start_url(theirs, "train")).status_code == 404
    assert not TrainingRun.objects.exists()


def test_start_button_needs_change_permission(ease, tenant):
    viewer = get_user_model().objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_strategy"))
    TenantMembership.objects.create(tenant=tenant, user=viewer)
    client = Client()
    client.force_login(viewer)
    assert client.post(_start_url(ease, "train")).status_code == 403
    assert not TrainingRun.objects.exists()
    page = client.get(reverse("admin:strategies_strategy_change", args=[ease.pk])).content.decode()
    assert "Retrain" not in page, "a user who cannot start runs sees no buttons"


def test_strategy_page_shows_buttons_and_runs(staff, ease):
    staff.post(_start_url(ease, "train"))
    run = TrainingRun.objects.get(strategy=ease)
    page = staff.get(reverse("admin:strategies_strategy_change", args=[ease.pk])).content.decode()
    for kind in ("encode", "train", "evaluate"):
        assert f'action="{_start_url(ease, kind)}"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    jobs = re.search(r'id="semrec-jobs">(.*?)</div>\s*\n', page, re.S).group(1)
    assert f'data-run="{run.pk}"' in jobs
    assert "semrec-status-succeeded" in jobs


def test_retrain_action_starts_one_run_each(staff, ease, tenant):
    second = Strategy.objects.create(tenant=tenant, name="popular", encoder_id="lexical", scorer_id="popularity", intent_model_id="")
    url = reverse("admin:strategies_strategy_changelist")
    response = staff.post(url, {"action": "retrain", "_selected_action": [ease.pk, second.pk]})
    runs = TrainingRun.objects.filter(kind=TrainingRun.Kind.TRAIN).order_by("pk")
    assert [run.strategy_id for run in runs] == [ease.pk, second.pk]
    assert response.status_code == 302
    assert response["Location"].endswith(f"?id__in={runs[0].pk},{runs[1].pk}")
    listing = staff.get(response["Location"]).content.decode()
    assert listing.count('class="semrec-progress ') == 2


def test_evaluate_action_ignores_other_tenant(staff, ease, other_tenant):
    theirs = FACTORIES[Strategy](other_tenant)
    url = reverse("admin:strategies_strategy_changelist")
    staff.post(url, {"action": "evaluate", "_selected_action": [ease.pk, theirs.pk]})
    assert list(TrainingRun.objects.values_list("strategy_id", flat=True)) == [ease.pk]


# The run page and its progress view.


def _running_run(strategy) -> TrainingRun:
    now = timezone.now()
    return TrainingRun.objects.create(
        tenant=strategy.tenant, strategy=strategy, kind=TrainingRun.Kind.ENCODE, status=TrainingRun.Status.RUNNING,
        stage="encode items", stage_started_at=now - timedelta(seconds=10), started_at=now - timedelta(seconds=12),
        done=25, total=100,
    )


def test_progress_view_reports_running_run(staff, ease):
    run = _running_run(ease)
    TrainingRun.objects.filter(pk=run.pk).update(created_at=run.started_at - timedelta(seconds=3))
    state = json.loads(staff.get(reverse("admin:training_trainingrun_progress", args=[run.pk])).content)
    assert state["status"] == "running"
    assert state["finished"] is False
    assert state["stage"] == "encode items"
    assert (state["done"], state["total"], state["percent"]) == (25, 100, 25.0)
    assert 25 <= state["eta_seconds"] <= 40, "10 s for a quarter leaves about 30 s"
    assert state["eta"].endswith(" s")
    assert state["queued_seconds"] == pytest.approx(3.0, abs=0.01)
    assert state["running_seconds"] >= 12
    assert state["finished_at"] is None
    assert "appears here when the run finishes" in state["result_html"]


def test_progress_view_reports_failure(staff, ease):
    run = _running_run(ease)
    TrainingRun.objects.filter(pk=run.pk).update(status="failed", error="ValueError: boom", finished_at=timezone.now())
    response = staff.get(reverse("admin:training_trainingrun_progress", args=[run.pk]))
    state = json.loads(response.content)
    assert "no-store" in response["Cache-Control"]
    assert state["finished"] is True
    assert state["error"] == "ValueError: boom"
    assert state["percent"] == 25.0, "a failed run keeps the share it reached"
    assert state["eta"] == ""


def test_progress_view_hides_other_tenant(staff, other_tenant):
    theirs = FACTORIES[TrainingRun](other_tenant)
    response = staff.get(reverse("admin:training_trainingrun_progress", args=[theirs.pk]))
    assert response.status_code == 404
    assert "globex" not in response.content.decode().lower()


def test_progress_view_needs_login(ease):
    run = _running_run(ease)
    response = Client().get(reverse("admin:training_trainingrun_progress", args=[run.pk]))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_run_page_polls_with_static_script(staff, ease):
    run = _running_run(ease)
    page = staff.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    progress_url = reverse("admin:training_trainingrun_progress", args=[run.pk])
    assert f'data-progress-url="{progress_url}"' in page
    assert 'data-finished="false"' in page
    assert '<script src="/static/semrec/training/run_progress.js">' in page
    assert 'style="width: 25.0%"' in page
    assert "cdn" not in page.lower()
    script = finders.find("semrec/training/run_progress.js")
    assert script, "the script is served from the project's static files"
    source = open(script).read()
    assert "fetch(" in source
    assert "state.finished" in source, "polling stops when the run finishes"


def test_run_list_shows_progress_bars(staff, ease):
    run = _running_run(ease)
    page = staff.get(reverse("admin:training_trainingrun_changelist")).content.decode()
    assert 'class="semrec-progress semrec-progress-running"' in page
    assert 'aria-valuenow="25"' in page
    assert "encode items: 25/100" in page
    assert f'semrec-status-{run.status}' in page
    assert "semrec/training/runs.css" in page


def test_runs_cannot_be_added_or_edited(staff, ease):
    run = _running_run(ease)
    assert staff.get(reverse("admin:training_trainingrun_add")).status_code == 403
    staff.post(reverse("admin:training_trainingrun_change", args=[run.pk]), {"status": "succeeded"})
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING


# Model versions.


def _versions(strategy, count=3) -> list[ModelVersion]:
    versions = []
    for _index in range(count):
        version = ModelVersion.objects.create(
            tenant=strategy.tenant, strategy=strategy, role="scorer:ease:abc", plugin_id="ease", plugin_version="1", artifact=b"",
            metrics={"train_seconds": 0.5},
        )
        version.activate()
        versions.append(version)
    return versions


def _active_pk(strategy):
    return ModelVersion.objects.get(strategy=strategy, is_active=True).pk


def test_activate_button(staff, ease):
    first, _second, third = _versions(ease)
    response = staff.post(reverse("admin:training_modelversion_activate", args=[first.pk]), follow=True)
    assert _active_pk(ease) == first.pk
    assert any(f"Version {first.pk} of acme/ease (ease) is now active" in message for message in _messages(response))
    assert response.redirect_chain[-1][0] == reverse("admin:training_modelversion_change", args=[first.pk])
    assert ModelVersion.objects.filter(pk=third.pk, is_active=False).exists()


def test_roll_back_button(staff, ease):
    _first, second, third = _versions(ease)
    response = staff.post(reverse("admin:training_modelversion_rollback", args=[third.pk]), follow=True)
    assert _active_pk(ease) == second.pk
    assert any(f"back from version {third.pk} to version {second.pk}" in message for message in _messages(response))
    assert response.redirect_chain[-1][0] == reverse("admin:training_modelversion_change", args=[second.pk])


def test_roll_back_without_previous_fails(staff, ease):
    (only,) = _versions(ease, count=1)
    response = staff.post(reverse("admin:training_modelversion_rollback", args=[only.pk]), follow=True)
    assert _active_pk(ease) == only.pk
    errors = [str(message) for message in response.context["messages"] if message.level == constants.ERROR]
    assert errors and str(only.pk) in errors[0], "the error names the version that stays active"


def test_version_buttons_reject_get(staff, ease):
    first, _second, third = _versions(ease)
    assert staff.get(reverse("admin:training_modelversion_activate", args=[first.pk])).status_code == 405
    assert staff.get(reverse("admin:training_modelversion_rollback", args=[third.pk])).status_code == 405
    assert _active_pk(ease) == third.pk


def test_version_buttons_hide_other_tenant(staff, other_tenant):
    theirs = FACTORIES[ModelVersion](other_tenant)
    assert staff.post(reverse("admin:training_modelversion_activate", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_active


def test_version_page_buttons(staff, ease):
    first, _second, third = _versions(ease)
    active_page = staff.get(reverse("admin:training_modelversion_change", args=[third.pk])).content.decode()
    assert reverse("admin:training_modelversion_rollback", args=[third.pk]) in active_page
    assert reverse("admin:training_modelversion_activate", args=[third.pk]) not in active_page
    assert 'name="_save"' not in active_page, "a version is changed only through its buttons"
    inactive_page = staff.get(reverse("admin:training_modelversion_change", args=[first.pk])).content.decode()
    assert reverse("admin:training_modelversion_activate", args=[first.pk]) in inactive_page
    assert "<th>train_seconds</th><td>0.5</td>" in inactive_page


def test_activate_action_rejects_two_of_one_role(staff, ease):
    first, second, third = _versions(ease)
    url = reverse("admin:training_modelversion_changelist")
    response = staff.post(url, {"action": "activate_selected", "_selected_action": [first.pk, second.pk]}, follow=True)
    assert _active_pk(ease) == third.pk
    assert any("only one of them can be active" in message for message in _messages(response))
    staff.post(url, {"action": "activate_selected", "_selected_action": [first.pk]})
    assert _active_pk(ease) == first.pk


def test_roll_back_action(staff, ease):
    _first, second, third = _versions(ease)
    url = reverse("admin:training_modelversion_changelist")
    staff.post(url, {"action": "roll_back_selected", "_selected_action": [third.pk]})
    assert _active_pk(ease) == second.pk


def test_version_links_run_that_produced_it(staff, ease):
    staff.post(_start_url(ease, "train"))
    run = TrainingRun.objects.get(strategy=ease)
    version = ModelVersion.objects.get(strategy=ease, is_active=True)
    page = staff.get(reverse("admin:training_modelversion_change", args=[version.pk])).content.decode()
    assert reverse("admin:training_trainingrun_change", args=[run.pk]) in page


# Training schedules.


def _schedule_form(strategy, **changes):
    return {"strategy": strategy.pk, "kind": "train", "interval_hours": 12, "enabled": "on", **changes}


def test_schedule_added_for_own_strategy(staff, ease):
    response = staff.post(reverse("admin:training_trainingschedule_add"), _schedule_form(ease))
    assert response.status_code == 302
    schedule = TrainingSchedule.objects.get()
    assert (schedule.strategy_id, schedule.kind, schedule.interval_hours) == (ease.pk, "train", 12)


def test_schedule_rejects_other_tenant_strategy(staff, other_tenant):
    theirs = FACTORIES[Strategy](other_tenant)
    page = staff.post(reverse("admin:training_trainingschedule_add"), _schedule_form(theirs)).content.decode()
    assert "Select a valid choice" in page
    assert not TrainingSchedule.objects.exists()


def test_schedule_rejects_zero_interval(staff, ease):
    page = staff.post(reverse("admin:training_trainingschedule_add"), _schedule_form(ease, interval_hours=0)).content.decode()
    assert "Ensure this value is greater than or equal to 1" in page
    assert not TrainingSchedule.objects.exists()


def test_schedule_rejects_duplicate_kind(staff, ease):
    TrainingSchedule.objects.create(strategy=ease, kind="train", interval_hours=24)
    page = staff.post(reverse("admin:training_trainingschedule_add"), _schedule_form(ease)).content.decode()
    assert "already exists" in page
    assert TrainingSchedule.objects.count() == 1


def test_schedule_list_edits_interval(staff, ease):
    schedule = TrainingSchedule.objects.create(strategy=ease, kind="train", interval_hours=24)
    data = {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": schedule.pk,
        "form-0-interval_hours": "6", "form-0-enabled": "on", "_save": "Save",
    }
    response = staff.post(reverse("admin:training_trainingschedule_changelist"), data)
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.interval_hours == 6


def test_schedule_list_cannot_edit_other_tenant(staff, other_tenant):
    theirs = FACTORIES[TrainingSchedule](other_tenant)
    data = {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": theirs.pk,
        "form-0-interval_hours": "1", "form-0-enabled": "", "_save": "Save",
    }
    staff.post(reverse("admin:training_trainingschedule_changelist"), data)
    theirs.refresh_from_db()
    assert (theirs.interval_hours, theirs.enabled) == (24, True)


def test_declared_tenant_path_must_reach_tenant():
    with pytest.raises(ValueError, match="not at a foreign key to Tenant"):
        declare_tenant_path(TrainingSchedule, "strategy")
