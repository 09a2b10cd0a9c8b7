"""Start encode and train runs: eagerly in this process, or on a Celery worker."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

from semrec.strategies.models import Strategy

from .models import TrainingRun, finish_run
from .tasks import encode_items_task, execute_run, failure_reason, train_strategy_task

logger = logging.getLogger(__name__)


class RunFailed(RuntimeError):
    """A run executed in this process failed; its TrainingRun row has the error."""

    def __init__(self, run: TrainingRun):
        self.run = run
        super().__init__(f"{run.get_kind_display()} for strategy '{run.strategy.name}' failed: {run.error} (training run {run.pk}).")


class BrokerUnavailable(RuntimeError):
    """The task of a run could not be sent to the broker; the run is marked failed with the reason."""

    def __init__(self, run: TrainingRun):
        self.run = run
        super().__init__(f"Training run {run.pk} was not queued: {run.error}")


def run_now(strategy: Strategy, kind: str, progress_callback=None, **kwargs) -> TrainingRun:
    """Create a run and execute it in this process (what commands do)."""
    run = TrainingRun.objects.create(tenant=strategy.tenant, strategy=strategy, kind=kind)
    try:
        return execute_run(run, progress_callback, **kwargs)
    except Exception as err:
        raise RunFailed(run) from err


def enqueue(strategy: Strategy, kind: str, **kwargs) -> TrainingRun:
    """Create a run and send it to the workers, or run it here when no broker is configured (eager mode).

    Raises RunFailed when an eager run fails, and BrokerUnavailable when the
    broker rejects or cannot take the task. The task is sent once the current
    transaction commits, so a worker always finds the run's row.
    """
    run = TrainingRun.objects.create(tenant=strategy.tenant, strategy=strategy, kind=kind)
    task = encode_items_task if kind == TrainingRun.Kind.ENCODE else train_strategy_task
    if settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            task.apply(args=[run.pk], kwargs=kwargs, throw=True)
        except Exception as err:
            run.refresh_from_db()
            raise RunFailed(run) from err
    else:
        transaction.on_commit(lambda: _send(task, run, kwargs))
    run.refresh_from_db()
    return run


def _send(task, run: TrainingRun, kwargs: dict) -> None:
    try:
        task.delay(run.pk, **kwargs)
    except BrokerOperationalError as err:
        logger.error("Training run %s (%s, strategy %s): sending task %s failed", run.pk, run.kind, run.strategy_id, task.name, exc_info=True)
        finish_run(run, error=f"Could not send the task to the broker: {failure_reason(err)}")
        raise BrokerUnavailable(run) from err
