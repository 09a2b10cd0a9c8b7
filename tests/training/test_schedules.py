"""Training schedules: which ones are due, the runs they start, the beat entry and the command."""

import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from semrec.celery import app
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training import schedules
from semrec.training.models import TrainingRun, TrainingSchedule
from semrec.vectors.models import ItemVector

from ..catalogue import ITEMS, load_catalogue
from .conftest import wait_for


@pytest.fixture
def default_strategy(catalogue):
    return Strategy.objects.create(tenant=catalogue, name="default", is_default=True)


def _schedule(strategy, kind=TrainingRun.Kind.ENCODE, hours=24, **fields):
    return TrainingSchedule.objects.create(strategy=strategy, kind=kind, interval_hours=hours, **fields)


def test_new_schedule_runs_at_once(default_strategy):
    schedule = _schedule(default_strategy)
    now = timezone.now()

    runs = schedules.queue_due_schedules(now)

    assert [run.kind for run in runs] == [TrainingRun.Kind.ENCODE]
    assert runs[0].status == TrainingRun.Status.SUCCEEDED
    assert ItemVector.objects.filter(item__tenant=default_strategy.tenant).count() == len(ITEMS)
    schedule.refresh_from_db()
    assert schedule.last_queued_at == now


def test_schedule_waits_for_interval(default_strategy):
    now = timezone.now()
    _schedule(default_strategy, hours=6, last_queued_at=now - timedelta(hours=5))

    assert schedules.queue_due_schedules(now) == []
    assert len(schedules.queue_due_schedules(now + timedelta(hours=1))) == 1


def test_disabled_schedule_skipped(default_strategy):
    _schedule(default_strategy, enabled=False)

    assert schedules.queue_due_schedules() == []


def test_unfinished_run_holds_schedule(default_strategy):
    _schedule(default_strategy, kind=TrainingRun.Kind.TRAIN, hours=2)
    TrainingRun.objects.create(
        tenant=default_strategy.tenant, strategy=default_strategy, kind=TrainingRun.Kind.TRAIN, status=TrainingRun.Status.RUNNING
    )

    assert schedules.queue_due_schedules() == []
    assert len(schedules.queue_due_schedules(timezone.now() + timedelta(hours=3))) == 1


def test_failed_run_does_not_stop_others(tenant, default_strategy):
    empty = Strategy.objects.create(tenant=tenant, name="empty")
    Strategy.objects.filter(pk=empty.pk).update(scorer_id="no-such-scorer")
    _schedule(empty, kind=TrainingRun.Kind.TRAIN)
    _schedule(default_strategy, kind=TrainingRun.Kind.ENCODE)

    runs = schedules.queue_due_schedules()

    assert [run.strategy_id for run in runs] == [default_strategy.pk]
    failed = TrainingRun.objects.get(strategy=empty)
    assert failed.status == TrainingRun.Status.FAILED
    assert "no-such-scorer" in failed.error


def test_beat_checks_schedules(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["queue-due-training-schedules"]

    assert entry["task"] == "semrec.queue_due_schedules"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == settings.SEMREC_SCHEDULE_CHECK_SECONDS


def _command(*args) -> str:
    out = io.StringIO()
    call_command("semrec_schedule", *args, stdout=out)
    return out.getvalue()


def test_command_sets_and_lists(default_strategy):
    slug = default_strategy.tenant.slug

    assert "no training schedules" in _command("--tenant", slug)
    _command("--tenant", slug, "--kind", "train", "--every", "12")
    _command("--tenant", slug, "--kind", "train", "--every", "6")
    listing = _command("--tenant", slug)

    schedule = TrainingSchedule.objects.get(strategy=default_strategy)
    assert schedule.interval_hours == 6
    assert "default\ttrain\tevery 6 h\tenabled\tlast queued never" in listing


def test_command_disables(default_strategy):
    slug = default_strategy.tenant.slug
    _schedule(default_strategy)

    _command("--tenant", slug, "--kind", "encode", "--off")

    assert TrainingSchedule.objects.get(strategy=default_strategy).enabled is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "4"], "--kind is required"),
        (["--kind", "encode", "--every", "0"], "--every is 0"),
        (["--kind", "train", "--off"], "has no train schedule"),
        (["--kind", "train", "--every", "4", "--strategy", "nope"], "nope"),
    ],
)
def test_command_rejects_bad_input(default_strategy, args, message):
    with pytest.raises(CommandError, match=message):
        _command("--tenant", default_strategy.tenant.slug, *args)

    assert not TrainingSchedule.objects.filter(enabled=True).exists()


@pytest.mark.django_db(transaction=True)
def test_beat_starts_due_run(start_worker, start_beat):
    tenant = Tenant.objects.create(slug="beat", name="Beat")
    load_catalogue(tenant)
    strategy = Strategy.objects.create(tenant=tenant, name="default", is_default=True)
    schedule = _schedule(strategy, hours=24)

    worker = start_worker()
    beat = start_beat(SEMREC_SCHEDULE_CHECK_SECONDS="1")
    run = _wait_for_run(strategy, worker, beat)

    run = wait_for(run, worker)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert ItemVector.objects.filter(item__tenant=tenant).count() == len(ITEMS)
    schedule.refresh_from_db()
    assert schedule.last_queued_at is not None
    assert TrainingRun.objects.filter(strategy=strategy).count() == 1
    assert "semrec.queue_due_schedules" in beat.output()


def _wait_for_run(strategy, worker, beat, timeout: float = 120.0) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = TrainingRun.objects.filter(strategy=strategy).first()
        if run is not None:
            return run
        time.sleep(0.5)
    pytest.fail(f"beat started no run within {timeout}s.\nbeat log:\n{beat.output()[-2000:]}\nworker log:\n{worker.output()[-2000:]}")
