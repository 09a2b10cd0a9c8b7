"""Encode and train runs executed by a real Celery worker through a Redis broker.

Skipped when no Redis server listens on 127.0.0.1:6379 (``SEMREC_TEST_REDIS_URL``
selects another). The worker is a separate process that reads the test
database, so the data is committed (a transactional test).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection

from semrec.celery import app
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import enqueue
from semrec.vectors.models import ItemVector

from ..catalogue import ITEMS, load_catalogue

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("SEMREC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUE = "semrec-test"


def _redis_reachable() -> bool:
    parsed = urlparse(REDIS_URL)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((parsed.hostname, parsed.port or 6379)) == 0


@pytest.fixture
def broker(settings):
    """Point this process's Celery app at Redis instead of eager mode."""
    if not _redis_reachable():
        pytest.skip(f"no Redis broker at {REDIS_URL}")
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False, task_default_queue=QUEUE)
    app.close()
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    yield
    app.conf.update(saved)
    app.close()


@pytest.fixture
def worker(broker, tmp_path):
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "SEMREC_DB_NAME": connection.settings_dict["NAME"],
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT / "plugins")]),
    }
    log = open(tmp_path / "worker.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "semrec", "worker", "--pool", "solo", "-Q", QUEUE,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    yield process, log
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def _wait_for(run: TrainingRun, process, log, timeout: float = 180.0) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED):
            return run
        if process.poll() is not None:
            break
        time.sleep(0.5)
    log.seek(0)
    pytest.fail(f"run {run.pk} is {run.status} after {timeout}s; worker log:\n{log.read()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_worker_encodes_and_trains(worker):
    process, log = worker
    tenant = Tenant.objects.create(slug="celery", name="Celery")
    load_catalogue(tenant)
    strategy = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True)

    encode = _wait_for(enqueue(strategy, TrainingRun.Kind.ENCODE), process, log)
    assert encode.status == TrainingRun.Status.SUCCEEDED, encode.error
    assert encode.done == encode.total
    assert ItemVector.objects.filter(item__tenant=tenant).count() == len(ITEMS)

    train = _wait_for(enqueue(strategy, TrainingRun.Kind.TRAIN), process, log)
    assert train.status == TrainingRun.Status.SUCCEEDED, train.error
    assert ModelVersion.objects.filter(strategy=strategy, is_active=True).count() == 1

    log.seek(0)
    worker_output = log.read()
    assert "Task semrec.encode_items[" in worker_output
    assert "Task semrec.train_strategy[" in worker_output


@pytest.mark.django_db(transaction=True)
def test_worker_records_failure(worker):
    process, log = worker
    tenant = Tenant.objects.create(slug="celery-empty", name="No events")
    strategy = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True)

    run = _wait_for(enqueue(strategy, TrainingRun.Kind.TRAIN), process, log)
    assert run.status == TrainingRun.Status.FAILED
    assert "no positive interactions" in run.error
    assert run.finished_at is not None
