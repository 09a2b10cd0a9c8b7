"""The --background and --wait options shared by ``semrec_encode`` and ``semrec_train``."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from semrec.celery import app
from semrec.strategies.models import Strategy
from semrec.terminal import StageBars
from semrec.training.models import TrainingRun
from semrec.training.runs import BrokerUnavailable, RunFailed, enqueue, run_now

FINISHED = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)

# Seconds a run may stay queued before --wait warns that no worker seems to consume its queue.
QUEUED_HINT_SECONDS = 15.0


def add_background_arguments(parser) -> None:
    parser.add_argument(
        "--background",
        action="store_true",
        help=gettext_lazy(
            "Send the run to the Celery workers and return at once, printing the run id. Without a broker "
            "(CELERY_BROKER_URL unset) the run executes in this process instead."
        ),
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help=gettext_lazy("With --background: follow the run's progress until it finishes; exit non-zero when it fails."),
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help=gettext_lazy("With --wait: seconds between two progress reads (default 1)."),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help=gettext_lazy("With --wait: stop following after this many seconds and exit non-zero; the run goes on."),
    )


def check_background_options(options: dict) -> None:
    """Raise CommandError for option combinations that make no sense, before anything is created."""
    if options["wait"] and not options["background"]:
        raise CommandError(_("--wait follows a background run: pass --background as well, or leave out --wait to run here."))
    if not options["wait"] and options["timeout"] is not None:
        raise CommandError(_("--timeout applies only with --wait. Add --background --wait or leave out --timeout."))
    if not options["poll_interval"] > 0:
        raise CommandError(_("--poll-interval must be a positive number of seconds, got %(value)s.") % {"value": options["poll_interval"]})
    if options["timeout"] is not None and not options["timeout"] > 0:
        raise CommandError(_("--timeout must be a positive number of seconds, got %(value)s.") % {"value": options["timeout"]})


def run_in_background(command: BaseCommand, strategy: Strategy, kind: str, options: dict, **kwargs) -> TrainingRun | None:
    """Send a run to the workers and report how to follow it; with --wait, follow it and return it once it succeeded.

    Returns None when the command returns without waiting. Raises CommandError
    when the run fails, cannot be queued, or does not finish within --timeout.
    """
    bars = StageBars(options["verbosity"] > 0)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        command.stderr.write(
            command.style.WARNING(
                _("No broker is configured (CELERY_BROKER_URL is not set), so the run executes in this process now (eager mode). "
                  "Set CELERY_BROKER_URL and start a worker to run it in the background.")
            )
        )
        try:
            return run_now(strategy, kind, bars, **kwargs)
        except RunFailed as err:
            raise CommandError(str(err)) from err
        finally:
            bars.close()

    try:
        run = enqueue(strategy, kind, **kwargs)
    except BrokerUnavailable as err:
        raise CommandError(
            _("%(error)s Check that the broker at CELERY_BROKER_URL is running, then start the run again.") % {"error": err}
        ) from err
    command.stdout.write(describe_queued(run))
    if not options["wait"]:
        return None
    try:
        run = follow(run, bars, options["poll_interval"], options["timeout"], lambda message: command.stderr.write(command.style.WARNING(message)))
    finally:
        bars.close()
    if run.status == TrainingRun.Status.FAILED:
        raise CommandError(_("Training run %(id)d failed: %(error)s") % {"id": run.pk, "error": run.error})
    return run


def describe_queued(run: TrainingRun) -> str:
    admin_path = reverse("admin:training_trainingrun_change", args=[run.pk])
    return _(
        "Queued %(kind)s run %(id)d of strategy '%(strategy)s' (tenant '%(tenant)s').\n"
        "Follow it with GET /api/v1/runs/%(id)d/ and one of the tenant's API keys, or in the admin at %(admin)s."
    ) % {"kind": run.kind, "id": run.pk, "strategy": run.strategy.name, "tenant": run.tenant.slug, "admin": admin_path}


def follow(
    run: TrainingRun,
    progress: Callable[[str, int, int], None],
    interval: float,
    timeout: float | None,
    warn: Callable[[str], None],
) -> TrainingRun:
    """Poll ``run`` until it succeeds or fails, passing ``(stage, done, total)`` to ``progress`` as it changes.

    Raises CommandError when ``timeout`` seconds pass first or on Ctrl+C; the run itself goes on.
    """
    started = time.monotonic()
    hinted = False
    last = None
    try:
        while True:
            run.refresh_from_db()
            state = (run.stage, run.done, run.total)
            if run.stage and state != last:
                progress(*state)
                last = state
            if run.status in FINISHED:
                return run
            waited = time.monotonic() - started
            if not hinted and run.status == TrainingRun.Status.QUEUED and waited >= QUEUED_HINT_SECONDS:
                warn(_queued_hint(run, waited))
                hinted = True
            if timeout is not None and waited >= timeout:
                raise CommandError(
                    _("Training run %(id)d is still %(status)s after %(seconds).0fs; stopped waiting. The run goes on: "
                      "follow it with GET /api/v1/runs/%(id)d/ or in the admin.") % {"id": run.pk, "status": run.status, "seconds": waited}
                )
            time.sleep(interval)
    except KeyboardInterrupt as err:
        raise CommandError(_("Stopped waiting for training run %(id)d. The run goes on on the workers.") % {"id": run.pk}) from err


def _queued_hint(run: TrainingRun, waited: float) -> str:
    routes = app.conf.task_routes if isinstance(app.conf.task_routes, dict) else {}
    queue = routes.get(_task_name(run.kind), {}).get("queue", app.conf.task_default_queue)
    return _(
        "Training run %(id)d is still queued after %(seconds).0fs. Is a worker consuming the queue '%(queue)s'? "
        "Start one with: celery -A semrec worker -Q %(queue)s"
    ) % {"id": run.pk, "seconds": waited, "queue": queue}


def _task_name(kind: str) -> str:
    return "semrec.encode_items" if kind == TrainingRun.Kind.ENCODE else "semrec.train_strategy"
