"""An evaluation run executed by a real Celery worker through a Redis broker.

Skipped when no Redis server listens (``SEMREC_TEST_REDIS_URL`` selects it).
The worker is a separate process that reads the test database, so the data
is committed (a transactional test).
"""

import pytest

from semrec.evaluation.models import EvaluationResult
from semrec.evaluation.protocol import parse_settings
from semrec.evaluation.runs import enqueue_evaluation
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import run_now

from ..catalogue import load_catalogue
from ..training.test_celery_worker import _wait_for, broker, worker  # noqa: F401 (fixtures)
from .conftest import PLAIN_OPTIONS, make_strategy


@pytest.mark.django_db(transaction=True)
def test_worker_evaluates_strategies(worker):  # noqa: F811
    process, log = worker
    tenant = Tenant.objects.create(slug="celery-eval", name="Celery evaluation")
    load_catalogue(tenant)
    ease = make_strategy(tenant, "ease", "ease", {"regularization": 1.0})
    popular = make_strategy(tenant, "popular", "popularity", options=PLAIN_OPTIONS)
    run_now(ease, TrainingRun.Kind.ENCODE)

    runs = enqueue_evaluation([ease, popular], parse_settings({"protocol": "leave_last_out", "ks": [5]}))
    finished = [_wait_for(run, process, log) for run in runs]

    assert [run.status for run in finished] == ["succeeded", "succeeded"], [run.error for run in finished]
    assert EvaluationResult.objects.filter(tenant=tenant, k=5).count() == 2
    log.seek(0)
    assert "Task semrec.evaluate_strategies[" in log.read()
