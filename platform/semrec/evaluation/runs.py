"""Start evaluation runs: in this process (the command) or on a Celery worker (the admin)."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings as django_settings
from django.db import transaction

from semrec.strategies.models import Strategy
from semrec.training.models import TrainingRun

from .jobs import ProgressCallback, RunProgressRelay, evaluate_runs
from .protocol import EvaluationError, EvaluationSettings
from .runner import Evaluator
from .tasks import evaluate_strategies_task


def create_runs(strategies: Sequence[Strategy]) -> list[TrainingRun]:
    """Create one queued evaluation run per strategy; all strategies must share one tenant."""
    if not strategies:
        raise EvaluationError("Choose at least one strategy to evaluate.")
    tenants = {strategy.tenant_id for strategy in strategies}
    if len(tenants) > 1:
        names = ", ".join(str(strategy) for strategy in strategies)
        raise EvaluationError(f"Strategies of different tenants cannot be evaluated together ({names}). Evaluate each tenant separately.")
    with transaction.atomic():
        return [
            TrainingRun.objects.create(tenant=strategy.tenant, strategy=strategy, kind=TrainingRun.Kind.EVALUATE)
            for strategy in strategies
        ]


def evaluate_now(
    strategies: Sequence[Strategy], settings: EvaluationSettings, callback: ProgressCallback | None = None
) -> list[TrainingRun]:
    """Split first, then create the runs and evaluate them in this process.

    Settings or data that cannot be evaluated raise EvaluationError before
    any run is created.
    """
    if not strategies:
        raise EvaluationError("Choose at least one strategy to evaluate.")
    relay = RunProgressRelay(callback)
    evaluator = Evaluator(strategies[0].tenant, settings, relay)
    return evaluate_runs(create_runs(strategies), settings, callback, evaluator)


def enqueue_evaluation(strategies: Sequence[Strategy], settings: EvaluationSettings) -> list[TrainingRun]:
    """Create the runs and send one task for them (eager when no broker is configured)."""
    runs = create_runs(strategies)
    arguments = ([run.pk for run in runs], settings.model_dump(mode="json"))
    if django_settings.CELERY_TASK_ALWAYS_EAGER:
        evaluate_strategies_task.apply(args=arguments, throw=True)
    else:
        transaction.on_commit(lambda: evaluate_strategies_task.delay(*arguments))
    for run in runs:
        run.refresh_from_db()
    return runs
