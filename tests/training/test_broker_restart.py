"""The broker goes down and comes back: the API keeps working and no queued or unsent work is lost.

The test starts its own ``redis-server`` on a free loopback port, with its
append-only file synced on every write, and a real Celery worker against it.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from semrec.catalog.models import Item
from semrec.celery import app
from semrec.strategies.models import Strategy
from semrec.tenants.models import ApiKey, Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import enqueue, run_now
from semrec.training.tasks import queue_due_schedules_task, train_strategy_task
from semrec.vectors.models import ItemVector

from ..catalogue import load_catalogue
from .conftest import DEFAULT_QUEUE, GPU_QUEUE, wait_for, worker_pool

# Tasks sent here wait for a worker that starts only after the broker restarted.
LATER_QUEUE = "semrec-test-later"
LEXICAL = {"dimension": 16, "max_features": 256, "min_df": 1}
NEW_ITEM = {"id": "space-7", "title": "Comet Chaser", "description": "A probe chases a comet past Jupiter.", "categories": ["Sci-Fi"]}

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A ``redis-server`` on a loopback port that a test can stop and start again with the same data."""

    def __init__(self, data_dir: Path):
        self.port = _free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen | None = None
        self.log = open(data_dir / "redis.log", "w+")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data_dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        pytest.fail(f"redis-server did not listen on port {self.port}:\n{self.output()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


@pytest.fixture
def redis_server(tmp_path):
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    server = RedisServer(data_dir)
    server.start()
    yield server
    server.stop()
    server.log.close()


@pytest.fixture
def own_broker(redis_server, settings):
    """Point this process's Celery app at the test's own Redis, as conftest's ``broker`` does for the shared one."""
    keys = ("broker_url", "task_always_eager", "task_default_queue", "task_routes")
    saved = {key: app.conf[key] for key in keys}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    routes = {name: {"queue": GPU_QUEUE} for name in ("semrec.encode_items", "semrec.encode_changed_items", "semrec.train_strategy")}
    _configure_app(broker_url=redis_server.url, task_always_eager=False, task_default_queue=DEFAULT_QUEUE, task_routes=routes)
    yield redis_server
    _configure_app(**saved)


def _configure_app(**conf) -> None:
    """Update this process's Celery app and drop its producers, so the next task goes to the new broker."""
    app.conf.update(conf)
    app.close()
    # Celery 5.7's app.close() drops the connection pool but not the producer
    # pool, which stays bound to the previous broker URL.
    app.amqp._producer_pool = None


def _api_client(tenant) -> APIClient:
    _key, raw = ApiKey.issue(tenant, "broker test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _queue_for_later(strategy) -> TrainingRun:
    run = TrainingRun.objects.create(tenant=strategy.tenant, strategy=strategy, kind=TrainingRun.Kind.TRAIN)
    train_strategy_task.apply_async(args=[run.pk], queue=LATER_QUEUE)
    return run


def _wait_until(condition, worker, description: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    pytest.fail(f"{description} did not happen within {timeout}s; worker log:\n{worker.output()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_broker_restart_loses_no_work(own_broker, tmp_path, caplog):
    tenant = Tenant.objects.create(slug="broker", name="Broker restart")
    load_catalogue(tenant)
    hybrid = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True, intent_model_config={"min_examples": 10})
    content = Strategy.objects.create(tenant=tenant, name="content", scorer_id="content", intent_model_id="")
    for strategy in (hybrid, content):
        run_now(strategy, TrainingRun.Kind.ENCODE)
    run_now(hybrid, TrainingRun.Kind.TRAIN)
    client = _api_client(tenant)
    env = {"CELERY_BROKER_URL": own_broker.url}

    with worker_pool(tmp_path) as start_worker:
        worker = start_worker(**env)
        sanity = wait_for(enqueue(hybrid, TrainingRun.Kind.TRAIN), worker)
        assert sanity.status == TrainingRun.Status.SUCCEEDED, sanity.error
        queued_before_stop = _queue_for_later(hybrid)

        own_broker.stop()

        # The API serves and accepts data without a broker.
        caplog.set_level(logging.WARNING)
        recommended = client.get("/api/v1/users/space-fan/recommendations/", {"n": 3})
        assert recommended.status_code == 200, recommended.content
        assert len(recommended.json()["items"]) == 3
        event = {"user_id": "space-fan", "item_id": "space-4", "kind": "click", "timestamp": "2024-02-01T00:00:00Z"}
        events = client.post("/api/v1/events/", [event], format="json")
        assert events.status_code == 200, events.content
        started = time.perf_counter()
        items = client.post("/api/v1/items/", [NEW_ITEM], format="json")
        items_seconds = time.perf_counter() - started
        assert items.status_code == 200, items.content
        assert "could not queue 1 saved items for encoding" in caplog.text
        # Saving a strategy with another encoder queues its encode run; without a broker that is logged.
        content.encoder_id, content.encoder_config = "lexical", LEXICAL
        content.save()
        assert "encode run could not be queued" in caplog.text
        assert content.serving_space.encoder_id == "transformers"
        similar = client.get("/api/v1/items/space-1/similar/", {"n": 3, "strategy": "content"})
        assert similar.status_code == 200, similar.content

        own_broker.start()

        sent_after_restart = wait_for(enqueue(hybrid, TrainingRun.Kind.TRAIN), worker)
        assert sent_after_restart.status == TrainingRun.Status.SUCCEEDED, sent_after_restart.error

        # The message queued before the stop survived the restart in Redis's append-only file.
        later_worker = start_worker(queues=LATER_QUEUE, **env)
        queued_before_stop = wait_for(queued_before_stop, later_worker)
        assert queued_before_stop.status == TrainingRun.Status.SUCCEEDED, queued_before_stop.error

        # Celery beat's schedule check sends what could not be sent during the outage.
        sweep = queue_due_schedules_task.apply().get()
        assert sweep["stale_item_tenants"] == [tenant.pk]
        assert len(sweep["encoder_switches"]) == 1
        new_item = Item.objects.get(tenant=tenant, external_id=NEW_ITEM["id"])
        _wait_until(
            lambda: ItemVector.objects.filter(space=hybrid.serving_space, item=new_item, text_hash=new_item.text_hash).exists(),
            worker, "encoding the item saved during the outage",
        )
        switch = wait_for(TrainingRun.objects.get(pk=sweep["encoder_switches"][0]), worker)
        assert switch.status == TrainingRun.Status.SUCCEEDED, switch.error

    content.refresh_from_db()
    assert content.serving_space.encoder_id == "lexical"
    assert content.serving_space.is_complete
    similar = client.get("/api/v1/items/space-7/similar/", {"n": 3, "strategy": "content"})
    assert similar.status_code == 200, similar.content
    print(f"POST /items/ with the broker down took {items_seconds:.2f}s")
