"""Real Celery worker processes on a Redis broker, for the worker tests.

The tests are skipped when no Redis server listens at ``SEMREC_TEST_REDIS_URL``
(by default redis://127.0.0.1:6379/15). A worker is a separate process that
reads the test database, so tests that use one commit their data (they are
transactional tests).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

import pytest
from django.db import connection

from semrec.celery import app
from semrec.training.models import TrainingRun

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("SEMREC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DEFAULT_QUEUE = "semrec-test"
GPU_QUEUE = "semrec-test-gpu"
FINISHED = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)


def _redis_reachable() -> bool:
    parsed = urlparse(REDIS_URL)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((parsed.hostname, parsed.port or 6379)) == 0


@pytest.fixture
def broker(settings):
    """Point this process's Celery app at Redis, with the test queues, instead of eager mode."""
    if not _redis_reachable():
        pytest.skip(f"no Redis broker at {REDIS_URL}")
    keys = ("broker_url", "task_always_eager", "task_default_queue", "task_routes")
    saved = {key: app.conf[key] for key in keys}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    routes = {name: {"queue": GPU_QUEUE} for name in ("semrec.encode_items", "semrec.encode_changed_items", "semrec.train_strategy")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False, task_default_queue=DEFAULT_QUEUE, task_routes=routes)
    app.close()
    # Celery 5.7's app.close() drops the connection pool but not the producer
    # pool, which stays bound to the previous broker URL.
    app.amqp._producer_pool = None
    with app.connection_for_write() as conn:
        for queue in (DEFAULT_QUEUE, GPU_QUEUE):
            conn.default_channel.queue_purge(queue)
    yield
    app.conf.update(saved)
    app.close()
    app.amqp._producer_pool = None


@dataclass
class Worker:
    """One ``celery worker`` or ``celery beat`` process and its log file."""

    process: subprocess.Popen
    log: IO[str]
    queues: str = field(default="")

    def __iter__(self):
        """Unpack as ``(process, log)``, the form that tests/evaluation/test_celery_worker.py uses."""
        return iter((self.process, self.log))

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def kill(self) -> None:
        """Kill the worker with SIGKILL, as an out-of-memory kill or a lost host would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.log.close()


@contextmanager
def worker_pool(log_dir: Path) -> Iterator[Callable[..., Worker]]:
    """Yield a function that starts ``celery worker`` processes on the test queues, and stop them all on exit.

    Keyword arguments of the function, other than ``queues``, become environment variables of the worker.
    """
    workers: list[Worker] = []

    def start(queues: str = f"{DEFAULT_QUEUE},{GPU_QUEUE}", **extra_env: str) -> Worker:
        log = open(log_dir / f"worker-{len(workers)}.log", "w+")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "semrec", "worker", "--pool", "solo", "-Q", queues,
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            env=_celery_env(extra_env), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        worker = Worker(process, log, queues)
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def start_worker(broker, tmp_path):
    with worker_pool(tmp_path) as start:
        yield start


@pytest.fixture
def start_beat(broker, tmp_path):
    """Start one ``celery beat`` process. Extra keyword arguments become environment variables."""
    beats: list[Worker] = []

    def start(**extra_env: str) -> Worker:
        log = open(tmp_path / "beat.log", "w+")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "semrec", "beat", "--schedule", str(tmp_path / "celerybeat-schedule"),
             "--loglevel", "INFO"],
            env=_celery_env(extra_env), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        beats.append(Worker(process, log))
        return beats[-1]

    yield start
    for beat in beats:
        beat.stop()


def _celery_env(extra_env: dict[str, str]) -> dict[str, str]:
    """Return the environment of a Celery process that uses the test database, broker and queues."""
    return {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "SEMREC_DB_NAME": connection.settings_dict["NAME"],
        "SEMREC_DEFAULT_QUEUE": DEFAULT_QUEUE,
        "SEMREC_GPU_QUEUE": GPU_QUEUE,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT / "plugins")]),
        **extra_env,
    }


@pytest.fixture
def worker(broker, tmp_path):
    """One worker on both test queues. It needs only ``broker`` and ``tmp_path``, so other test folders can import it."""
    with worker_pool(tmp_path) as start:
        yield start()


def wait_for(run: TrainingRun, worker: Worker, timeout: float = 180.0) -> TrainingRun:
    """Poll ``run`` until it succeeds or fails, and fail the test with the worker's log when it does not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in FINISHED:
            return run
        if worker.process.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"run {run.pk} is {run.status} after {timeout}s; worker log:\n{worker.output()[-4000:]}")
