"""Celery tasks for encoding and training. Commands run the same jobs eagerly.

A task that fails on a lost database or broker connection is retried with
exponential backoff, at most ``SEMREC_TASK_MAX_RETRIES`` times. Any other
failure (a plugin error, bad configuration, too little training data) is
recorded on the TrainingRun and not retried, because running it again would
fail the same way.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from semrec.tenants.models import Tenant

from .jobs import encode_items, encode_saved_items, tenants_with_stale_items, train_strategy
from .models import RunProgress, TrainingRun, finish_run, requeue_run, start_run

logger = logging.getLogger(__name__)

JOBS = {
    TrainingRun.Kind.ENCODE: encode_items,
    TrainingRun.Kind.TRAIN: train_strategy,
}

# Errors that another attempt can get past: a dropped or refused database
# connection, or a broker that was unreachable for a moment.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError)

# Seconds before retry n is 2**n * RETRY_BASE_SECONDS, at most RETRY_MAX_SECONDS.
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 600


def failure_reason(err: BaseException) -> str:
    """Return the text recorded on a failed run: the error class and its message."""
    return f"{type(err).__name__}: {err}"


def execute_run(run: TrainingRun, progress_callback=None, will_retry: bool = False, **kwargs) -> TrainingRun:
    """Run the job of ``run``, recording progress, result or error on it.

    With ``will_retry`` set, a transient error marks the run queued again
    instead of failed, because the caller sends the task again.
    """
    start_run(run)
    progress = RunProgress(run, progress_callback)
    try:
        result = JOBS[run.kind](run.strategy, progress, **kwargs)
    except TRANSIENT_ERRORS as err:
        _record_transient(run, err, will_retry)
        raise
    except Exception as err:
        logger.exception("Training run %s (%s, strategy %s) failed", run.pk, run.kind, run.strategy_id)
        finish_run(run, error=failure_reason(err))
        raise
    finish_run(run, result=result)
    return run


def _record_transient(run: TrainingRun, err: BaseException, will_retry: bool) -> None:
    """Record a transient error on the run, logging instead when the database that failed rejects the write too."""
    try:
        if will_retry:
            requeue_run(run, f"Retrying after {failure_reason(err)}")
        else:
            finish_run(run, error=failure_reason(err))
    except TRANSIENT_ERRORS:
        logger.warning("Training run %s: could not record the error %s", run.pk, failure_reason(err), exc_info=True)


def retry_countdown(retries: int) -> int:
    """Return the seconds to wait before retry number ``retries + 1``."""
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**retries)


def _run_task(task, run_id: int, **kwargs) -> dict:
    """Load and execute a run inside ``task``, retrying it on transient errors."""
    max_retries = settings.SEMREC_TASK_MAX_RETRIES
    # Eager tasks run inside a request or command, which should fail at once.
    will_retry = not task.request.is_eager and task.request.retries < max_retries
    try:
        run = TrainingRun.objects.select_related("strategy__tenant").filter(pk=run_id).first()
        if run is None:
            logger.warning("Task %s: training run %s no longer exists, so there is nothing to do", task.name, run_id)
            return {}
        return execute_run(run, will_retry=will_retry, **kwargs).result
    except TRANSIENT_ERRORS as err:
        if not will_retry:
            raise
        raise _retry(task, err, f"training run {run_id}") from err


def _retry(task, err: BaseException, subject: str):
    """Log the retry of ``task`` after ``err`` and return Celery's Retry exception for the caller to raise."""
    max_retries = settings.SEMREC_TASK_MAX_RETRIES
    countdown = retry_countdown(task.request.retries)
    logger.warning(
        "Task %s: %s failed with %s; retry %d of %d in %ds",
        task.name, subject, failure_reason(err), task.request.retries + 1, max_retries, countdown,
    )
    return task.retry(exc=err, countdown=countdown, max_retries=max_retries)


@shared_task(bind=True, name="semrec.encode_items", acks_late=True, reject_on_worker_lost=True)
def encode_items_task(self, run_id: int, force: bool = False) -> dict:
    return _run_task(self, run_id, force=force)


@shared_task(bind=True, name="semrec.train_strategy", acks_late=True, reject_on_worker_lost=True)
def train_strategy_task(self, run_id: int) -> dict:
    return _run_task(self, run_id)


@shared_task(bind=True, name="semrec.encode_changed_items", acks_late=True, reject_on_worker_lost=True)
def encode_changed_items_task(self, tenant_id: int, item_pks: list[int] | None) -> dict:
    """Encode items saved through the API into the tenant's existing spaces; None checks every item of the tenant."""
    try:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            logger.warning("Task %s: tenant %s no longer exists, so there is nothing to encode", self.name, tenant_id)
            return {}
        return encode_saved_items(tenant, item_pks)
    except TRANSIENT_ERRORS as err:
        if self.request.is_eager or self.request.retries >= settings.SEMREC_TASK_MAX_RETRIES:
            raise
        count = "all" if item_pks is None else len(item_pks)
        raise _retry(self, err, f"encoding {count} saved items of tenant {tenant_id}") from err


@shared_task(name="semrec.queue_due_schedules")
def queue_due_schedules_task() -> dict:
    """Start the due scheduled runs, and send the work that could not be sent earlier. Celery beat sends this task.

    That work is the encode run of a changed encoder, and the encoding of
    saved items that have no vector for their current text.
    """
    # Imported here because schedules and versions import runs, which imports this module.
    from .schedules import queue_due_schedules
    from .versions import queue_pending_switches

    runs = queue_due_schedules()
    switches = queue_pending_switches()
    return {
        "runs": [run.pk for run in runs],
        "encoder_switches": [run.pk for run in switches],
        "stale_item_tenants": queue_stale_items(),
    }


def queue_stale_items() -> list[int]:
    """Send an encode task for each tenant with items missing from a serving space; return those tenants' ids."""
    if not settings.SEMREC_ENCODE_ON_SAVE:
        return []
    sent = []
    for tenant_id in tenants_with_stale_items():
        try:
            encode_changed_items_task.delay(tenant_id, None)
        except TRANSIENT_ERRORS:
            logger.warning("Tenant %s: could not queue the encoding of its stale items", tenant_id, exc_info=True)
            continue
        logger.info("Tenant %s: queued the encoding of items that have no current vector", tenant_id)
        sent.append(tenant_id)
    return sent
