"""Evaluation runs: evaluate strategies as TrainingRuns of kind "evaluate" and store their results.

The command runs these in its own process; the Celery task runs the same
code on a worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from semrec.training.models import RunProgress, TrainingRun, finish_run, start_run

from .models import EvaluationResult
from .protocol import EvaluationSettings
from .runner import Evaluator, StrategyEvaluation

logger = logging.getLogger(__name__)

#: Receives ``(run, stage, done, total)`` as each run progresses; commands draw bars with it. The
#: run is None while the shared split is prepared.
ProgressCallback = Callable[[TrainingRun | None, str, int, int], None]


class RunProgressRelay:
    """Forwards an Evaluator's ``(stage, done, total)`` to the RunProgress of the run being evaluated."""

    def __init__(self, callback: ProgressCallback | None):
        self.callback = callback
        self.progress: RunProgress | None = None
        self._stage = None

    def bind(self, run: TrainingRun) -> None:
        self.progress = RunProgress(run, self._forward(run))
        self._stage = None

    def _forward(self, run: TrainingRun):
        if self.callback is None:
            return None
        return lambda stage, done, total: self.callback(run, stage, done, total)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.progress is None:
            if self.callback is not None:
                self.callback(None, stage, done, total)
            return
        if stage != self._stage:
            self._stage = stage
            self.progress.stage(stage, total)
        self.progress(done, total)


def evaluate_runs(
    runs: Sequence[TrainingRun],
    settings: EvaluationSettings,
    callback: ProgressCallback | None = None,
    evaluator: Evaluator | None = None,
) -> list[TrainingRun]:
    """Evaluate the strategy of each run on one shared split; each run records its own outcome.

    All runs must belong to one tenant. Without an ``evaluator`` the split is
    made here, and when it cannot be made (no events, no held-out relevant
    item) every run fails with that reason.
    """
    relay = RunProgressRelay(callback)
    relay.bind(runs[0])
    for run in runs:
        start_run(run)
    if evaluator is None:
        try:
            evaluator = Evaluator(runs[0].tenant, settings, relay)
        except Exception as err:
            logger.exception("Evaluation of tenant %s could not start", runs[0].tenant_id)
            for run in runs:
                finish_run(run, error=f"{type(err).__name__}: {err}")
            return list(runs)
    evaluator.progress = relay

    for run in runs:
        relay.bind(run)
        _evaluate_one(evaluator, run, settings)
    return list(runs)


def _evaluate_one(evaluator: Evaluator, run: TrainingRun, settings: EvaluationSettings) -> None:
    try:
        evaluation = evaluator.evaluate(run.strategy)
        save_results(run, evaluation, settings)
    except Exception as err:
        logger.exception("Evaluation run %s (strategy %s, tenant %s) failed", run.pk, run.strategy_id, run.tenant_id)
        finish_run(run, error=f"{type(err).__name__}: {err}")
        return
    finish_run(run, result=_summary(evaluation, settings))
    logger.info(
        "Evaluation run %s: strategy %s nDCG@%d %.4f over %d users",
        run.pk, run.strategy_id, settings.max_k, evaluation.metrics[settings.max_k]["ndcg"], evaluation.users,
    )


def save_results(run: TrainingRun, evaluation: StrategyEvaluation, settings: EvaluationSettings) -> list[EvaluationResult]:
    """Store one EvaluationResult per K."""
    rows = []
    for k, values in evaluation.metrics.items():
        rows.append(
            EvaluationResult(
                tenant_id=run.tenant_id,
                strategy=evaluation.strategy,
                run=run,
                model_version=evaluation.model_version,
                plugin_versions=evaluation.plugin_versions,
                protocol=settings.protocol,
                train_ratio=None if settings.protocol == "leave_last_out" else settings.train_ratio,
                seed=settings.seed,
                validation=settings.validation,
                min_rating=settings.min_rating,
                k=k,
                users=evaluation.users,
                precision=values["precision"],
                recall=values["recall"],
                ndcg=values["ndcg"],
                map=values["map"],
                mrr=values["mrr"],
                hit_rate=values["hit_rate"],
                coverage=values["coverage"],
                diversity=values["diversity"],
                novelty=values["novelty"],
                details={**evaluation.details, "map_all_relevant": values["map_all_relevant"]},
            )
        )
    return EvaluationResult.objects.bulk_create(rows)


def _summary(evaluation: StrategyEvaluation, settings: EvaluationSettings) -> dict:
    return {
        "settings": settings.model_dump(mode="json"),
        "model_version": evaluation.model_version,
        "users": evaluation.users,
        "metrics": {str(k): values for k, values in evaluation.metrics.items()},
        **evaluation.details,
    }
