"""Background runs for the REST API: start them, look them up for one tenant and describe them."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerOperationalError
from rest_framework import serializers as drf_serializers

from semrec.evaluation.protocol import EvaluationError, parse_settings
from semrec.evaluation.runs import enqueue_evaluation
from semrec.recommend.service import StrategyNotFound, resolve_strategy
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training import runs as training_runs
from semrec.training.models import ModelVersion, TrainingRun, finish_run
from semrec.training.tasks import failure_reason

from .errors import InvalidRequest, NotFound, ServiceUnavailable

logger = logging.getLogger(__name__)

# PostgreSQL's bigint range; a larger id in the path could only fail in the query.
MAX_RUN_ID = 2**63 - 1


def start(tenant: Tenant, body: dict) -> TrainingRun:
    """Create the run that ``body`` (validated by RunCreateSerializer) requests and send it to the workers.

    An eager run that fails is returned with its failed status, because the
    request that started it was valid.
    """
    strategy = _strategy(tenant, body.get("strategy"))
    kind = body["kind"]
    if kind == TrainingRun.Kind.EVALUATE:
        return _start_evaluation(strategy, body.get("settings", {}))
    kwargs = {"force": body.get("force", False)} if kind == TrainingRun.Kind.ENCODE else {}
    try:
        return training_runs.enqueue(strategy, kind, **kwargs)
    except training_runs.RunFailed as err:
        logger.warning("Training run %s of tenant %s failed in eager mode: %s", err.run.pk, tenant.pk, err.run.error)
        return err.run
    except training_runs.BrokerUnavailable as err:
        raise ServiceUnavailable(
            _("The run could not be queued because the task broker is unreachable (training run %(id)d is marked failed). "
              "Check that the broker at CELERY_BROKER_URL is running, then start the run again.") % {"id": err.run.pk},
            "broker_unavailable",
        ) from err


def _strategy(tenant: Tenant, name: str | None) -> Strategy:
    try:
        return resolve_strategy(tenant, name)
    except StrategyNotFound as err:
        raise drf_serializers.ValidationError({"strategy": [str(err)]}) from err


def _start_evaluation(strategy: Strategy, raw_settings: dict) -> TrainingRun:
    try:
        settings = parse_settings(raw_settings)
    except EvaluationError as err:
        raise drf_serializers.ValidationError({"settings": [str(err)]}) from err
    requested_at = timezone.now()
    try:
        return enqueue_evaluation([strategy], settings)[0]
    except BrokerOperationalError as err:
        # enqueue_evaluation created the run before sending failed, so find and fail it.
        run = TrainingRun.objects.filter(
            strategy=strategy, kind=TrainingRun.Kind.EVALUATE, status=TrainingRun.Status.QUEUED, created_at__gte=requested_at
        ).order_by("-pk").first()
        logger.error("Evaluation of strategy %s: sending the task failed", strategy.pk, exc_info=True)
        if run is not None:
            finish_run(run, error=f"Could not send the task to the broker: {failure_reason(err)}")
        raise ServiceUnavailable(
            _("The run could not be queued because the task broker is unreachable. "
              "Check that the broker at CELERY_BROKER_URL is running, then start the run again."),
            "broker_unavailable",
        ) from err


def get_run(tenant: Tenant, run_id: str) -> TrainingRun:
    """Return the tenant's run with id ``run_id``; another tenant's run is not found, like a missing one."""
    if not run_id.isascii() or not run_id.isdigit() or not 1 <= int(run_id) <= MAX_RUN_ID:
        raise InvalidRequest(
            _("Invalid run id %(id)r: use the positive integer 'id' that POST /api/v1/runs/ returned.") % {"id": run_id},
            "invalid_run_id",
        )
    run = TrainingRun.objects.select_related("strategy").filter(tenant=tenant, pk=int(run_id)).first()
    if run is None:
        raise NotFound(_("Run %(id)s does not exist. GET /api/v1/runs/ lists this tenant's runs.") % {"id": run_id}, "run_not_found")
    return run


def list_page(request, params: dict) -> dict:
    """Return one page of the tenant's runs, newest first, filtered by ``params`` (RunListQuerySerializer)."""
    runs = TrainingRun.objects.filter(tenant=request.user.tenant).select_related("strategy").order_by("-created_at", "-pk")
    for name in ("status", "kind"):
        if name in params:
            runs = runs.filter(**{name: params[name]})
    if "strategy" in params:
        # The same check and message as POST, so a misspelt name is not read as "no runs".
        strategy = _strategy(request.user.tenant, params["strategy"])
        runs = runs.filter(strategy=strategy)
    count = runs.count()
    offset, limit = params["offset"], params["limit"]
    page = list(runs[offset : offset + limit])
    versions = _model_versions(page)
    following = None
    if offset + limit < count:
        query = {key: value for key, value in request.query_params.items() if key not in ("offset", "limit")}
        following = request.build_absolute_uri(f"{request.path}?{urlencode({**query, 'limit': limit, 'offset': offset + limit})}")
    return {"count": count, "next": following, "results": [describe(run, versions) for run in page]}


def run_url(request, run: TrainingRun) -> str:
    return request.build_absolute_uri(f"/api/v1/runs/{run.pk}/")


def describe(run: TrainingRun, versions: dict[int, ModelVersion] | None = None) -> dict:
    """Return the API body of ``run``. ``versions`` contains the runs' model versions by id, loaded when omitted."""
    if versions is None:
        versions = _model_versions([run])
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "strategy": run.strategy.name,
        "stage": run.stage,
        "done": run.done,
        "total": run.total,
        "percent": round(run.percent, 2),
        "eta_seconds": None if run.eta_seconds is None else round(run.eta_seconds, 1),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": _duration(run),
        "error": run.error,
        "result": run.result,
        "model_versions": [_version_body(versions[pk]) for pk in produced_versions(run) if pk in versions],
    }


def _duration(run: TrainingRun) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or timezone.now()
    return round((end - run.started_at).total_seconds(), 3)


def produced_versions(run: TrainingRun) -> list[int]:
    """Return the ids of the model versions that ``run`` stored, read from its result.

    An encode run names the encoder's fitted version as ``model_version``
    (None for encoders without a fit) and a train run lists one
    ``model_version`` per trained role under ``trained``. An evaluate run's
    ``model_version`` is a text label of the versions it scored, not an id,
    so it is left out.
    """
    if run.kind == TrainingRun.Kind.EVALUATE or not isinstance(run.result, dict):
        return []
    entries = [run.result, *(entry for entry in run.result.get("trained", []) if isinstance(entry, dict))]
    ids = [entry.get("model_version") for entry in entries]
    return list(dict.fromkeys(pk for pk in ids if isinstance(pk, int) and not isinstance(pk, bool)))


def _model_versions(runs: list[TrainingRun]) -> dict[int, ModelVersion]:
    ids = {pk for run in runs for pk in produced_versions(run)}
    if not ids:
        return {}
    tenant_ids = {run.tenant_id for run in runs}
    return {version.pk: version for version in ModelVersion.objects.filter(pk__in=ids, tenant_id__in=tenant_ids).defer("artifact")}


def _version_body(version: ModelVersion) -> dict:
    return {
        "id": version.pk,
        "role": version.role,
        "plugin": version.plugin_id,
        "is_active": version.is_active,
        "created_at": version.created_at,
    }
