"""``semrec_encode --background`` and ``semrec_train --background``, with and without a real worker.

The worker tests are skipped when no Redis server listens at
``SEMREC_TEST_REDIS_URL``; they commit their data because the worker is a
separate process (transactional tests).
"""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import ModelVersion, TrainingRun
from semrec.vectors.models import ItemVector

from ..catalogue import ITEMS, load_catalogue
from .conftest import wait_for


def _call(*args, verbosity: int = 0) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, verbosity=verbosity)
    return out.getvalue(), err.getvalue()


def _tenant(slug: str, with_catalogue: bool = True) -> Tenant:
    tenant = Tenant.objects.create(slug=slug, name=slug)
    if with_catalogue:
        load_catalogue(tenant)
    Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True)
    return tenant


# --- With a worker on Redis ---


@pytest.mark.django_db(transaction=True)
def test_background_encode_prints_run(worker):
    tenant = _tenant("bg-encode")

    output, _errors = _call("semrec_encode", "--tenant", tenant.slug, "--background")

    run = TrainingRun.objects.get(tenant=tenant)
    assert f"Queued encode run {run.pk} of strategy 'hybrid' (tenant 'bg-encode')" in output
    assert f"GET /api/v1/runs/{run.pk}/" in output
    assert f"/admin/training/trainingrun/{run.pk}/change/" in output
    assert "Encoded" not in output
    finished = wait_for(run, worker)
    assert finished.status == TrainingRun.Status.SUCCEEDED, finished.error
    assert ItemVector.objects.filter(item__tenant=tenant).count() == len(ITEMS)


@pytest.mark.django_db(transaction=True)
def test_background_wait_encodes_then_trains(worker):
    tenant = _tenant("bg-wait")

    encoded, _errors = _call("semrec_encode", "--tenant", tenant.slug, "--background", "--wait", "--poll-interval", "0.2", verbosity=1)
    trained, _errors = _call("semrec_train", "--tenant", tenant.slug, "--background", "--wait", "--poll-interval", "0.2")

    assert f"Encoded {len(ITEMS)} items" in encoded
    assert "Trained " in trained
    assert ModelVersion.objects.filter(tenant=tenant, is_active=True).exists()
    runs = TrainingRun.objects.filter(tenant=tenant).order_by("pk")
    assert [(run.kind, run.status) for run in runs] == [("encode", "succeeded"), ("train", "succeeded")]
    assert "Task semrec.train_strategy[" in worker.output()


@pytest.mark.django_db(transaction=True)
def test_background_wait_reports_failure(worker):
    tenant = _tenant("bg-empty", with_catalogue=False)

    with pytest.raises(CommandError) as raised:
        _call("semrec_train", "--tenant", tenant.slug, "--background", "--wait", "--poll-interval", "0.2")

    run = TrainingRun.objects.get(tenant=tenant)
    assert run.status == TrainingRun.Status.FAILED
    assert f"Training run {run.pk} failed" in str(raised.value)
    assert "no positive interactions" in str(raised.value)


@pytest.mark.django_db(transaction=True)
def test_background_wait_timeout(broker):
    """No worker consumes the queue, so --wait gives up after --timeout and the run stays queued."""
    tenant = _tenant("bg-timeout")

    with pytest.raises(CommandError) as raised:
        _call("semrec_encode", "--tenant", tenant.slug, "--background", "--wait", "--poll-interval", "0.1", "--timeout", "0.5")

    run = TrainingRun.objects.get(tenant=tenant)
    assert run.status == TrainingRun.Status.QUEUED
    assert f"Training run {run.pk} is still queued" in str(raised.value)
    assert "The run goes on" in str(raised.value)


# --- Without a broker (eager mode) ---


def test_background_without_broker_runs_here(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tenant = _tenant("bg-eager")

    output, errors = _call("semrec_encode", "--tenant", tenant.slug, "--background")

    assert "No broker is configured" in errors
    assert "executes in this process now" in errors
    assert f"Encoded {len(ITEMS)} items" in output
    assert TrainingRun.objects.get(tenant=tenant).status == TrainingRun.Status.SUCCEEDED


def test_background_without_broker_failure(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tenant = _tenant("bg-eager-empty", with_catalogue=False)

    with pytest.raises(CommandError) as raised:
        _call("semrec_train", "--tenant", tenant.slug, "--background", "--wait")

    assert "no positive interactions" in str(raised.value)
    assert TrainingRun.objects.get(tenant=tenant).status == TrainingRun.Status.FAILED


# --- Bad input: an error and no run ---

BAD_OPTIONS = {
    "wait without background": (["--wait"], "--wait follows a background run"),
    "timeout without wait": (["--background", "--timeout", "5"], "--timeout applies only with --wait"),
    "zero poll interval": (["--background", "--wait", "--poll-interval", "0"], "--poll-interval must be a positive number"),
    "negative timeout": (["--background", "--wait", "--timeout", "-1"], "--timeout must be a positive number"),
    "unknown strategy": (["--background", "--strategy", "nope"], "Strategy 'nope' does not exist"),
}


@pytest.mark.parametrize("command", ["semrec_encode", "semrec_train"])
@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_background_bad_options(db, command, case):
    tenant = _tenant(f"bad-{command[7:]}", with_catalogue=False)
    extra, message = BAD_OPTIONS[case]

    with pytest.raises(CommandError) as raised:
        _call(command, "--tenant", tenant.slug, *extra)

    assert message in str(raised.value)
    assert not TrainingRun.objects.exists()


def test_background_unknown_tenant(db):
    with pytest.raises(CommandError) as raised:
        _call("semrec_train", "--tenant", "ghost", "--background")

    assert "Tenant 'ghost' does not exist" in str(raised.value)
    assert not TrainingRun.objects.exists()


def test_background_poll_interval_not_a_number(db):
    with pytest.raises(CommandError) as raised:
        _call("semrec_encode", "--tenant", "any", "--background", "--wait", "--poll-interval", "soon")

    assert "--poll-interval" in str(raised.value)
