"""Celery tasks for encoding and training. Commands run the same tasks eagerly."""

from __future__ import annotations

import logging

from celery import shared_task

from .jobs import encode_items, train_strategy
from .models import RunProgress, TrainingRun, finish_run, start_run

logger = logging.getLogger(__name__)

JOBS = {
    TrainingRun.Kind.ENCODE: encode_items,
    TrainingRun.Kind.TRAIN: train_strategy,
}


def execute_run(run: TrainingRun, progress_callback=None, **kwargs) -> TrainingRun:
    """Run the job of ``run``, recording progress, result or error on it."""
    start_run(run)
    progress = RunProgress(run, progress_callback)
    try:
        result = JOBS[run.kind](run.strategy, progress, **kwargs)
    except Exception as err:
        logger.exception("Training run %s (%s, strategy %s) failed", run.pk, run.kind, run.strategy_id)
        finish_run(run, error=f"{type(err).__name__}: {err}")
        raise
    finish_run(run, result=result)
    return run


@shared_task(name="semrec.encode_items", acks_late=True)
def encode_items_task(run_id: int, force: bool = False) -> dict:
    run = TrainingRun.objects.select_related("strategy__tenant").get(pk=run_id)
    return execute_run(run, force=force).result


@shared_task(name="semrec.train_strategy", acks_late=True)
def train_strategy_task(run_id: int) -> dict:
    run = TrainingRun.objects.select_related("strategy__tenant").get(pk=run_id)
    return execute_run(run).result
