"""Periodic encode and train runs: Celery beat sends ``semrec.queue_due_schedules``, which starts the due ones.

The schedules are rows of TrainingSchedule, read on every check, so a change
takes effect at the next check without restarting beat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import TrainingRun, TrainingSchedule
from .runs import enqueue

logger = logging.getLogger(__name__)

UNFINISHED = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)


def queue_due_schedules(now: datetime | None = None) -> list[TrainingRun]:
    """Start a run for every enabled schedule that is due, and return the runs started."""
    now = now or timezone.now()
    runs = []
    for schedule in _claim_due(now):
        run = _start(schedule)
        if run is not None:
            runs.append(run)
    return runs


def _start(schedule: TrainingSchedule) -> TrainingRun | None:
    """Start the schedule's run; a failure is logged (and recorded on the run) so the other schedules still start."""
    try:
        run = enqueue(schedule.strategy, schedule.kind)
    except Exception:
        # In eager mode the run executes here, and its TrainingRun already records the error.
        logger.exception("Schedule %s: the %s run of strategy %s failed to start or run", schedule.pk, schedule.kind, schedule.strategy_id)
        return None
    logger.info("Schedule %s: started %s run %s of strategy %s", schedule.pk, schedule.kind, run.pk, schedule.strategy_id)
    return run


def _claim_due(now: datetime) -> list[TrainingSchedule]:
    """Mark due schedules as queued at ``now`` and return them. Rows locked by a concurrent check are skipped."""
    with transaction.atomic():
        schedules = (
            TrainingSchedule.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("strategy__tenant")
            .filter(enabled=True)
            .order_by("pk")
        )
        due = [schedule for schedule in schedules if schedule.is_due(now) and not _still_running(schedule, now)]
        for schedule in due:
            schedule.last_queued_at = now
            schedule.save(update_fields=["last_queued_at"])
    return due


def _still_running(schedule: TrainingSchedule, now: datetime) -> bool:
    """Return whether a run of the schedule's kind, started within one interval, has not finished yet."""
    # A run older than one interval counts as lost (its worker died and the
    # broker dropped the task), so it does not hold the schedule back for ever.
    since = now - timedelta(hours=schedule.interval_hours)
    unfinished = TrainingRun.objects.filter(
        strategy=schedule.strategy, kind=schedule.kind, status__in=UNFINISHED, created_at__gte=since
    )
    if unfinished.exists():
        logger.info("Schedule %s: skipped, because a %s run of strategy %s has not finished", schedule.pk, schedule.kind, schedule.strategy_id)
        return True
    return False
