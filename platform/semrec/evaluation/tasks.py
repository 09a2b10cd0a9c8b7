"""The Celery task that evaluates strategies. The admin starts it through ``runs.enqueue_evaluation``."""

from __future__ import annotations

import logging

from celery import shared_task

from semrec.training.models import TrainingRun, finish_run

from .jobs import evaluate_runs
from .protocol import EvaluationError, parse_settings

logger = logging.getLogger(__name__)


@shared_task(name="semrec.evaluate_strategies", acks_late=True)
def evaluate_strategies_task(run_ids: list[int], settings: dict) -> dict:
    """Evaluate the strategies of ``run_ids`` (one tenant) under ``settings``, recording each run's outcome."""
    runs = list(TrainingRun.objects.select_related("strategy__tenant", "tenant").filter(pk__in=run_ids).order_by("pk"))
    if not runs:
        logger.warning("Evaluation task found none of the training runs %s; they were deleted", run_ids)
        return {"runs": {}}
    try:
        parsed = parse_settings(settings)
    except EvaluationError as err:
        logger.error("Evaluation runs %s received invalid settings: %s", run_ids, err)
        for run in runs:
            finish_run(run, error=str(err))
        return {"runs": {run.pk: run.status for run in runs}}
    evaluate_runs(runs, parsed)
    return {"runs": {run.pk: run.status for run in runs}}
