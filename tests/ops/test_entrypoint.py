"""docker/entrypoint.sh run here for each role, against the embedded PostgreSQL and Redis on loopback.

Every process is started in a session of its own and stopped with its
children at the end of the test. Ports are free ports on 127.0.0.1.
"""

import json
import re
import secrets
import time
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from semrec.celery import app
from semrec.embedded_db.server import ensure_database, ensure_server, socket_dir
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import enqueue

from ..catalogue import load_catalogue
from .processes import ENTRYPOINT, child_environment, free_port, http_get, output, start, stop, wait_for_http

SECRET_KEY = "entrypoint-test-" + secrets.token_urlsafe(40)

CREATE_TENANT = """
from semrec.tenants.models import ApiKey, Tenant
from tests.catalogue import load_catalogue
tenant = Tenant.objects.create(slug="acme", name="Acme")
load_catalogue(tenant)
print("KEY=" + ApiKey.issue(tenant, "entrypoint test")[1])
"""


def _server():
    return ensure_server(settings.DATABASES["default"]["DATA_DIR"])


@pytest.fixture
def fresh_database():
    """An empty database on the embedded server, dropped after the test."""
    name = f"semrec_ops_{uuid.uuid4().hex[:12]}"
    server = _server()
    ensure_database(server, name)
    yield name
    with psycopg.connect(host=socket_dir(server), user="postgres", dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def processes():
    """Processes started by a test, stopped with their children afterwards."""
    started = []
    yield started
    for process in started:
        stop(process)


def _production_env(tmp_path, label: str, **overrides) -> dict[str, str]:
    return child_environment(
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / f"metrics-{label}"),
        **overrides,
    )


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _migrations_applied_twice(database: str) -> list[tuple]:
    with psycopg.connect(host=socket_dir(_server()), user="postgres", dbname=database) as conn:
        return conn.execute(
            "SELECT app, name, count(*) FROM django_migrations GROUP BY app, name HAVING count(*) > 1"
        ).fetchall()


def test_unknown_role_fails(tmp_path, processes):
    process = start([str(ENTRYPOINT), "frontend"], child_environment(), tmp_path / "unknown.log")
    processes.append(process)

    assert process.wait(timeout=30) == 64
    assert "unknown role 'frontend'" in output(process)
    assert "web, worker, worker-gpu, beat, manage" in output(process)


def test_web_replicas_migrate_once_and_serve(tmp_path, processes, fresh_database, redis_url):
    ports = {"a": free_port(), "b": free_port()}
    common = {"SEMREC_DB_NAME": fresh_database, "CELERY_BROKER_URL": redis_url, "SEMREC_STATIC_ROOT": str(tmp_path / "static")}
    replicas = {
        "a": _production_env(tmp_path, "a", SEMREC_LOG_FORMAT="json", **common),
        "b": _production_env(tmp_path, "b", SEMREC_LOG_FORMAT="plain", **common),
    }

    # The images collect static files at build time, as here.
    collect = start([str(ENTRYPOINT), "manage", "collectstatic", "--noinput"], replicas["a"], tmp_path / "static.log")
    processes.append(collect)
    assert collect.wait(timeout=300) == 0, output(collect)

    # Both replicas start at the same moment on the same empty database.
    for label, env in replicas.items():
        command = [str(ENTRYPOINT), "web", "--bind", f"127.0.0.1:{ports[label]}", "--workers", "1"]
        processes.append(start(command, env, tmp_path / f"web-{label}.log"))
    web_a, web_b = processes[1:]
    for label, process in zip(ports, (web_a, web_b)):
        wait_for_http(f"http://127.0.0.1:{ports[label]}/healthz", process)

    # Exactly one replica applied the migrations; the other found them applied.
    logs = output(web_a) + output(web_b)
    assert logs.count("Applying tenants.0001_initial") == 1, logs[-4000:]
    assert logs.count("no migrations applied") == 1, logs[-4000:]
    assert _migrations_applied_twice(fresh_database) == []

    for port in ports.values():
        status, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, body = http_get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200, body
        assert json.loads(body)["checks"] == {"database": "ok", "broker": "ok", "models": "ok"}

    # A tenant with a catalogue and a key, made through the entry point's manage role.
    shell = start([str(ENTRYPOINT), "manage", "shell", "-c", CREATE_TENANT], replicas["a"], tmp_path / "shell.log")
    processes.append(shell)
    assert shell.wait(timeout=180) == 0, output(shell)
    raw_key = next(line[4:] for line in output(shell).splitlines() if line.startswith("KEY="))

    https = {"X-Forwarded-Proto": "https"}
    status, body = http_get(
        f"http://127.0.0.1:{ports['a']}/api/v1/users/space-fan/recommendations/?n=3",
        {**https, "Authorization": f"Bearer {raw_key}"},
    )
    assert status == 200, body
    strategy = json.loads(body)["strategy"]
    status, _body = http_get(f"http://127.0.0.1:{ports['b']}/api/v1/items/", {**https, "X-Api-Key": raw_key + "x"})
    assert status == 401
    status, _body = http_get(f"http://127.0.0.1:{ports['b']}/api/v1/items/")
    assert status == 301, "plain HTTP to the API is redirected to HTTPS"

    # The admin's hashed static files come from WhiteNoise.
    status, page = http_get(f"http://127.0.0.1:{ports['b']}/admin/login/", https)
    assert status == 200, page
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert stylesheet, page[:2000]
    status, css = http_get(f"http://127.0.0.1:{ports['b']}{stylesheet.group(1)}", https)
    assert status == 200
    assert "body" in css

    # Metrics of replica a, scraped from loopback.
    status, metrics = http_get(f"http://127.0.0.1:{ports['a']}/metrics")
    assert status == 200
    assert f'semrec_recommendations_total{{kind="user",strategy="{strategy}",tenant="acme"}} 1.0' in metrics
    assert 'semrec_http_request_duration_seconds_count{endpoint="recommendations",method="GET"} 1.0' in metrics

    # Replica a logs JSON: one request line with tenant, strategy, status and latency.
    time.sleep(0.5)
    lines = _json_lines(output(web_a))
    [request_line] = [line for line in lines if line.get("endpoint") == "recommendations"]
    assert request_line["logger"] == "semrec.ops.middleware"
    assert request_line["tenant"] == "acme"
    assert request_line["strategy"] == strategy
    assert request_line["status_code"] == 200
    assert request_line["duration_ms"] > 0
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    assert "tenant=- strategy=- request_id=" in output(web_b)

    # No key secret or SECRET_KEY in any line of either replica. (The shell
    # printed the new key on purpose, as semrec_apikey does.)
    key_secret = raw_key.split("_", 2)[2]
    for process in (web_a, web_b):
        text = output(process)
        assert key_secret not in text
        assert SECRET_KEY not in text


def _wait_for_run(run: TrainingRun, process, timeout: float = 240.0) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED):
            return run
        assert process.poll() is None, output(process)[-4000:]
        time.sleep(0.5)
    pytest.fail(f"run {run.pk} is {run.status} after {timeout:g} s:\n{output(process)[-4000:]}")


@pytest.fixture
def queue(settings, redis_url):
    """Send tasks from this process to Redis, on a queue of this test's own."""
    name = f"semrec-ops-{uuid.uuid4().hex[:8]}"
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue", "task_routes")}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # No routes, so the encode and train tasks come to this queue instead of "gpu".
    app.conf.update(broker_url=redis_url, task_always_eager=False, task_default_queue=name, task_routes={})
    app.close()
    yield name
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(name)
    app.conf.update(saved)
    app.close()


def _worker_env(tmp_path, redis_url: str, label: str, metrics_port: int, **overrides) -> dict[str, str]:
    return _production_env(
        tmp_path,
        label,
        CELERY_BROKER_URL=redis_url,
        SEMREC_DB_NAME=connection.settings_dict["NAME"],
        SEMREC_WORKER_METRICS_PORT=str(metrics_port),
        SEMREC_WORKER_METRICS_ADDRESS="127.0.0.1",
        **overrides,
    )


def _celery_args(queue_option: list[str]) -> list[str]:
    return [*queue_option, "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat"]


@pytest.mark.django_db(transaction=True)
def test_worker_consumes_tasks(tmp_path, processes, queue, redis_url):
    metrics_port = free_port()
    env = _worker_env(tmp_path, redis_url, "worker", metrics_port)
    worker = start([str(ENTRYPOINT), "worker", *_celery_args(["--queues", queue])], env, tmp_path / "worker.log")
    processes.append(worker)
    tenant = Tenant.objects.create(slug="entry-worker", name="Worker")
    load_catalogue(tenant)
    strategy = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True)
    empty = Strategy.objects.create(tenant=Tenant.objects.create(slug="entry-empty", name="Empty"), name="hybrid")

    encode = _wait_for_run(enqueue(strategy, TrainingRun.Kind.ENCODE), worker)
    failed = _wait_for_run(enqueue(empty, TrainingRun.Kind.TRAIN), worker)

    assert encode.status == TrainingRun.Status.SUCCEEDED, encode.error
    assert failed.status == TrainingRun.Status.FAILED
    assert "up to date; no migrations applied" in output(worker)
    assert "Task semrec.encode_items[" in output(worker)
    # semrec's own lines print once, not again through Celery's root handler.
    assert output(worker).count("16 items to encode") == 1
    status, metrics = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert status == 200
    assert 'semrec_task_duration_seconds_count{state="SUCCESS",task="semrec.encode_items"} 1.0' in metrics
    assert 'semrec_task_failures_total{task="semrec.train_strategy"} 1.0' in metrics


@pytest.mark.django_db(transaction=True)
def test_gpu_worker_role_consumes_its_queues(tmp_path, processes, queue, redis_url):
    """The worker-gpu role on a machine without a GPU: its queues come from SEMREC_GPU_WORKER_QUEUES."""
    env = _worker_env(
        tmp_path, redis_url, "gpu", free_port(), SEMREC_GPU_WORKER_QUEUES=queue, SEMREC_MIGRATE="0", SEMREC_LOG_FORMAT="json"
    )
    worker = start([str(ENTRYPOINT), "worker-gpu", *_celery_args([])], env, tmp_path / "worker-gpu.log")
    processes.append(worker)
    empty = Strategy.objects.create(tenant=Tenant.objects.create(slug="entry-gpu", name="GPU"), name="hybrid")

    run = _wait_for_run(enqueue(empty, TrainingRun.Kind.TRAIN), worker)

    assert run.status == TrainingRun.Status.FAILED
    assert "no positive interactions" in run.error
    text = output(worker)
    assert "accepted a connection (attempt 1)" in text, "SEMREC_MIGRATE=0 only waits for the database"
    assert "gpu@" in text
    # JSON lines, and the task's name and id on the lines logged inside it.
    [failure] = [line for line in _json_lines(text) if line["logger"] == "semrec.training.tasks"]
    assert failure["level"] == "ERROR"
    assert failure["task_name"] == "semrec.train_strategy"
    assert failure["task_id"]
    assert any(line["logger"] == "celery.app.trace" and failure["task_id"] in line["message"] for line in _json_lines(text))


def test_beat_role_starts(tmp_path, processes, redis_url):
    env = _production_env(tmp_path, "beat", CELERY_BROKER_URL=redis_url, SEMREC_MIGRATE="0")
    command = [str(ENTRYPOINT), "beat", "--schedule", str(tmp_path / "schedule"), "--max-interval", "1"]
    beat = start(command, env, tmp_path / "beat.log")
    processes.append(beat)

    deadline = time.monotonic() + 120
    while "beat: Starting..." not in output(beat):
        assert beat.poll() is None, output(beat)
        assert time.monotonic() < deadline, output(beat)
        time.sleep(0.5)
    time.sleep(2)

    assert beat.poll() is None, output(beat)
    assert SECRET_KEY not in output(beat)
