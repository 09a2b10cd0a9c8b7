"""Queue routing, retries and progress of the encode and train tasks, without a worker."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

from semrec.celery import app
from semrec.plugins import InsufficientTrainingData
from semrec.strategies.models import Strategy
from semrec.training import tasks
from semrec.training.models import RunProgress, TrainingRun


class StandInTask:
    """The parts of a bound Celery task that ``_run_task`` uses, recording each retry request."""

    name = "semrec.encode_items"

    def __init__(self, retries: int = 0):
        self.request = SimpleNamespace(is_eager=False, retries=retries)
        self.retry_calls: list[dict] = []

    def retry(self, **kwargs):
        self.retry_calls.append(kwargs)
        return Retry(exc=kwargs["exc"], when=kwargs["countdown"])


@pytest.fixture
def run(tenant):
    strategy = Strategy.objects.create(tenant=tenant, name="default", is_default=True)
    return TrainingRun.objects.create(tenant=tenant, strategy=strategy, kind=TrainingRun.Kind.ENCODE)


def _job_raising(error: Exception):
    def job(strategy, progress, **kwargs):
        raise error

    return job


@pytest.mark.parametrize(
    ("task_name", "setting"),
    [
        ("semrec.encode_items", "SEMREC_GPU_QUEUE"),
        ("semrec.encode_changed_items", "SEMREC_GPU_QUEUE"),
        ("semrec.train_strategy", "SEMREC_GPU_QUEUE"),
        ("semrec.evaluate_strategies", "CELERY_TASK_DEFAULT_QUEUE"),
    ],
)
def test_task_routed_to_queue(settings, task_name, setting):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == getattr(settings, setting)


def test_default_queue_names_match_entrypoint(settings):
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "celery"
    assert settings.SEMREC_GPU_QUEUE == "gpu"


@pytest.mark.parametrize("task", [tasks.encode_items_task, tasks.train_strategy_task])
def test_task_redelivered_when_worker_lost(task):
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


def test_transient_error_retried(run, monkeypatch):
    monkeypatch.setitem(tasks.JOBS, TrainingRun.Kind.ENCODE, _job_raising(OperationalError("server closed the connection")))
    task = StandInTask(retries=2)

    with pytest.raises(Retry):
        tasks._run_task(task, run.pk)

    assert task.retry_calls[0]["countdown"] == 20
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.QUEUED
    assert run.error == "Retrying after OperationalError: server closed the connection"


def test_transient_error_fails_after_last_retry(run, settings, monkeypatch):
    monkeypatch.setitem(tasks.JOBS, TrainingRun.Kind.ENCODE, _job_raising(OperationalError("connection refused")))
    task = StandInTask(retries=settings.SEMREC_TASK_MAX_RETRIES)

    with pytest.raises(OperationalError):
        tasks._run_task(task, run.pk)

    assert task.retry_calls == []
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error == "OperationalError: connection refused"


def test_permanent_error_not_retried(run, monkeypatch):
    error = InsufficientTrainingData("ALS needs at least 2 users with positive events; tenant 'acme' has 1.")
    monkeypatch.setitem(tasks.JOBS, TrainingRun.Kind.ENCODE, _job_raising(error))
    task = StandInTask()

    with pytest.raises(InsufficientTrainingData):
        tasks._run_task(task, run.pk)

    assert task.retry_calls == []
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error == f"InsufficientTrainingData: {error}"
    assert run.finished_at is not None


def test_deleted_run_ignored(run):
    run_id = run.pk
    run.delete()

    assert tasks._run_task(StandInTask(), run_id) == {}


def test_retry_countdown_grows_to_limit():
    assert [tasks.retry_countdown(n) for n in range(4)] == [5, 10, 20, 40]
    assert tasks.retry_countdown(20) == tasks.RETRY_MAX_SECONDS


def test_progress_estimates_time_left(run):
    run.status = TrainingRun.Status.RUNNING
    progress = RunProgress(run, interval=0.0)
    progress.stage("encode items", 400)
    assert run.eta_seconds is None

    run.stage_started_at = timezone.now() - timedelta(seconds=30)
    progress(100, 400)

    stored = TrainingRun.objects.get(pk=run.pk)
    assert stored.stage == "encode items"
    assert stored.percent == 25.0
    assert stored.stage_started_at is not None
    assert 89.0 <= run.eta_seconds <= 91.0


def test_eta_missing_when_not_running(run):
    run.stage_started_at, run.done, run.total = timezone.now(), 5, 10
    assert run.eta_seconds is None
