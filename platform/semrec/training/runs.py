"""Start encode and train runs: eagerly in this process, or on a Celery worker."""

from __future__ import annotations

from django.conf import settings

from semrec.strategies.models import Strategy

from .models import TrainingRun
from .tasks import encode_items_task, execute_run, train_strategy_task


class RunFailed(RuntimeError):
    """A run executed in this process failed; its TrainingRun row has the error."""

    def __init__(self, run: TrainingRun):
        self.run = run
        super().__init__(f"{run.get_kind_display()} for strategy '{run.strategy.name}' failed: {run.error} (training run {run.pk}).")


def run_now(strategy: Strategy, kind: str, progress_callback=None, **kwargs) -> TrainingRun:
    """Create a run and execute it in this process (what commands do)."""
    run = TrainingRun.objects.create(tenant=strategy.tenant, strategy=strategy, kind=kind)
    try:
        return execute_run(run, progress_callback, **kwargs)
    except Exception as err:
        raise RunFailed(run) from err


def enqueue(strategy: Strategy, kind: str, **kwargs) -> TrainingRun:
    """Create a run and send it to the workers (eager when no broker is configured)."""
    run = TrainingRun.objects.create(tenant=strategy.tenant, strategy=strategy, kind=kind)
    task = encode_items_task if kind == TrainingRun.Kind.ENCODE else train_strategy_task
    if settings.CELERY_TASK_ALWAYS_EAGER:
        task.apply(args=[run.pk], kwargs=kwargs, throw=True)
    else:
        task.delay(run.pk, **kwargs)
    run.refresh_from_db()
    return run
