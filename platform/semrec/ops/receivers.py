"""Signal receivers that feed the metrics and shape the Celery worker's logs."""

from __future__ import annotations

import logging
import os
import time

from celery import current_task
from celery import signals as celery_signals
from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from semrec.recommend.models import Recommendation

from .logs import JsonFormatter, PlainFormatter
from .metrics import FALLBACKS, RECOMMENDATIONS, TASK_DURATION, TASK_FAILURES

logger = logging.getLogger(__name__)


@receiver(post_save, sender=Recommendation, dispatch_uid="semrec.ops.count_recommendation")
def count_recommendation(sender, instance: Recommendation, created: bool, **kwargs) -> None:
    """Count a served list by tenant, strategy and kind, and separately when it fell back."""
    if not created:
        return
    # The service creates the row with its tenant and strategy objects, so
    # reading their names costs no query.
    labels = (instance.tenant.slug, instance.strategy.name if instance.strategy else "-", instance.kind)
    RECOMMENDATIONS.labels(*labels).inc()
    if instance.fell_back:
        FALLBACKS.labels(*labels).inc()


@celery_signals.task_prerun.connect(dispatch_uid="semrec.ops.task_started")
def task_started(task, **kwargs) -> None:
    # The request context lives as long as this run of the task, so the start
    # time goes away with it even when task_postrun is never sent.
    task.request.semrec_started = time.monotonic()


@celery_signals.task_postrun.connect(dispatch_uid="semrec.ops.task_finished")
def task_finished(task, state: str | None = None, **kwargs) -> None:
    started = getattr(task.request, "semrec_started", None)
    if started is not None:
        TASK_DURATION.labels(task.name, state or "UNKNOWN").observe(time.monotonic() - started)


@celery_signals.task_failure.connect(dispatch_uid="semrec.ops.task_failed")
def task_failed(sender, **kwargs) -> None:
    TASK_FAILURES.labels(sender.name).inc()


@celery_signals.worker_init.connect(dispatch_uid="semrec.ops.serve_worker_metrics")
def serve_worker_metrics(**kwargs) -> None:
    """Serve the worker's metrics on SEMREC_WORKER_METRICS_PORT, when it is set."""
    port = os.environ.get("SEMREC_WORKER_METRICS_PORT")
    if not port:
        return
    address = os.environ.get("SEMREC_WORKER_METRICS_ADDRESS", "0.0.0.0")
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The pool processes run the tasks; this process reads their sample files.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr=address, registry=registry)
    logger.info("Serving worker metrics on %s:%s", address, port)


@celery_signals.after_setup_logger.connect(dispatch_uid="semrec.ops.format_worker_logs")
def format_worker_logs(**kwargs) -> None:
    """Format the worker's root handlers like the rest of semrec's log, and print each line once.

    Loggers that settings.LOGGING gives a handler of their own (semrec,
    django, pgserver) stop propagating to the root handler Celery adds, which
    would print their lines a second time.
    """
    _format_handlers(kwargs["logger"].handlers)
    for name, config in settings.LOGGING.get("loggers", {}).items():
        if config.get("handlers"):
            own_logger = logging.getLogger(name)
            own_logger.propagate = False
            for handler in own_logger.handlers:
                handler.addFilter(_add_task_fields)


@celery_signals.after_setup_task_logger.connect(dispatch_uid="semrec.ops.format_worker_task_logs")
def format_worker_task_logs(**kwargs) -> None:
    _format_handlers(kwargs["logger"].handlers)


def _format_handlers(handlers: list[logging.Handler]) -> None:
    """Give handlers the SEMREC_LOG_FORMAT formatter, which masks secrets, and the task fields."""
    if settings.SEMREC_LOG_FORMAT == "json":
        formatter = JsonFormatter()
    else:
        formatter = PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_add_task_fields)


def _add_task_fields(record: logging.LogRecord) -> bool:
    """Add the running task's name and id to a record, as Celery's own task formatter does."""
    if current_task and current_task.request.id:
        record.task_name = current_task.name
        record.task_id = current_task.request.id
    return True
