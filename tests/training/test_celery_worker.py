"""Encode and train runs executed by a real Celery worker through a Redis broker.

Skipped when no Redis server listens on 127.0.0.1:6379 (``SEMREC_TEST_REDIS_URL``
selects another). The worker is a separate process that reads the test
database, so the data is committed (a transactional test).
"""

import pytest

from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import enqueue
from semrec.vectors.models import ItemVector

from ..catalogue import ITEMS, load_catalogue
from .conftest import Worker, broker, wait_for, worker  # noqa: F401 (fixtures that tests/evaluation imports from here)


def _wait_for(run: TrainingRun, process, log, timeout: float = 180.0) -> TrainingRun:
    """Poll ``run`` like :func:`wait_for`, for callers that unpacked the worker fixture into ``(process, log)``."""
    return wait_for(run, Worker(process, log), timeout)


@pytest.mark.django_db(transaction=True)
def test_worker_encodes_and_trains(worker):
    tenant = Tenant.objects.create(slug="celery", name="Celery")
    load_catalogue(tenant)
    strategy = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True)

    encode = wait_for(enqueue(strategy, TrainingRun.Kind.ENCODE), worker)
    assert encode.status == TrainingRun.Status.SUCCEEDED, encode.error
    assert encode.done == encode.total
    assert ItemVector.objects.filter(item__tenant=tenant).count() == len(ITEMS)

    train = wait_for(enqueue(strategy, TrainingRun.Kind.TRAIN), worker)
    assert train.status == TrainingRun.Status.SUCCEEDED, train.error
    assert ModelVersion.objects.filter(strategy=strategy, is_active=True).count() == 1

    worker_output = worker.output()
    assert "Task semrec.encode_items[" in worker_output
    assert "Task semrec.train_strategy[" in worker_output


@pytest.mark.django_db(transaction=True)
def test_worker_records_failure(worker):
    tenant = Tenant.objects.create(slug="celery-empty", name="No events")
    strategy = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True)

    run = wait_for(enqueue(strategy, TrainingRun.Kind.TRAIN), worker)
    assert run.status == TrainingRun.Status.FAILED
    assert "no positive interactions" in run.error
    assert run.finished_at is not None
