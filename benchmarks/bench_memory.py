"""Benchmark memory: peak resident set size (VmHWM) of a web process and of a Celery worker process.

1. Web: gunicorn with ``docker/gunicorn.conf.py``, one sync worker, DEBUG
   off, on 127.0.0.1. The script reads the worker's resident memory after
   its first request, sends ``--requests`` recommendation requests for the tenant's
   users (default strategy), and then reads the worker's VmHWM.
2. Worker: ``celery worker --pool solo`` (the task runs in the worker process
   itself) on queues of its own, with Redis at ``--broker`` as the broker.
   The script reads its resident memory when idle, sends a training run of
   the tenant's default strategy and reads VmHWM, then sends an encoding run
   with ``force`` (every item encoded again with the transformer model) and
   reads VmHWM again.

The tenant defaults to ``bench`` (MovieLens latest-small, imported, encoded
and trained first where needed), whose default strategy is the one
``manage.py semrec_demo`` sets up. VmHWM is the kernel's high-water mark of
the process's resident memory since it started.

Usage: .venv/bin/python benchmarks/bench_memory.py [--tenant bench] [--broker redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import common

# Queues of this run only, so that two runs on one broker do not take each other's tasks.
QUEUE = f"semrec-bench-memory-{os.getpid()}"
GPU_QUEUE = f"semrec-bench-memory-gpu-{os.getpid()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default="bench", help="Tenant slug. The tenant is imported from --path, encoded and trained first where needed.")
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with the unpacked ml-latest-small files.")
    parser.add_argument("--requests", type=int, default=300, help="Recommendation requests sent to the web worker (1 to 100,000).")
    parser.add_argument(
        "--broker",
        default=os.environ.get("SEMREC_BENCH_BROKER_URL") or os.environ.get("SEMREC_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0",
        help="Redis URL of the Celery broker (default: $SEMREC_BENCH_BROKER_URL, else $SEMREC_TEST_REDIS_URL, else database 0 on 127.0.0.1).",
    )
    parser.add_argument("--skip-encode", action="store_true", help="Leave out the encoding run in the worker.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        parser.error("--requests must be between 1 and 100,000.")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        parser.error(f"{gunicorn} is missing. Install the production extra: .venv/bin/pip install -e '.[production]'.")

    # The broker settings must be in place before Django configures Celery in this process.
    os.environ.update({"CELERY_BROKER_URL": args.broker, "SEMREC_DEFAULT_QUEUE": QUEUE, "SEMREC_GPU_QUEUE": GPU_QUEUE})
    common.print_header("memory")
    common.setup_django()
    common.open_database()
    common.prepare_tenant(args.tenant, args.path, encode=True, train=True)

    results: dict = {"tenant": args.tenant}
    results.update(measure_web(args))
    results.update(measure_worker(args))
    common.print_results(results, args.json)


def child_environment(**extra: str) -> dict[str, str]:
    """Return the environment of a served or worker process on this script's database."""
    params = common.raw_connection_params()
    from urllib.parse import quote

    database_url = f"postgres://{params.get('user', 'postgres')}@{quote(params['host'], safe='')}"
    if params.get("port"):
        database_url += f":{params['port']}"
    return {
        **os.environ,
        "DATABASE_URL": database_url + f"/{params['dbname']}",
        "PYTHONPATH": os.pathsep.join([str(common.ROOT / "platform"), str(common.ROOT / "plugins")]),
        **extra,
    }


def resident_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure_web(args) -> dict:
    from semrec.catalog.models import User
    from semrec.tenants.models import ApiKey, Tenant

    tenant = Tenant.objects.get(slug=args.tenant)
    api_key = ApiKey.issue(tenant, "benchmark")[1]
    users = list(User.objects.filter(tenant=tenant, events__isnull=False).distinct().values_list("external_id", flat=True))
    port = common.free_port()
    environment = child_environment(
        DEBUG="0",
        SECRET_KEY="semrec-benchmark-only-" + "x" * 40,
        SECURE_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1",
        SEMREC_WEB_BIND=f"{common.HOST}:{port}",
        WEB_CONCURRENCY="1",
    )
    log_path = Path(os.environ["SEMREC_STATE_DIR"]) / f"bench-memory-gunicorn-{port}.log"
    command = [str(Path(sys.executable).with_name("gunicorn")), "--config", str(common.ROOT / "docker" / "gunicorn.conf.py"), "semrec.wsgi"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=common.ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not common.port_accepts(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log_path}.")
            time.sleep(0.2)
        worker_pid = gunicorn_worker(server.pid)
        client = common.ApiClient(port, api_key, quickack=False)
        order = random.Random(1).sample(users, len(users))
        # gunicorn loads the application in each worker after the fork, so the
        # first request is what makes the worker's start-up size comparable.
        status, body = client.request("GET", f"/api/v1/users/{order[0]}/recommendations/?n=10")
        if status != 200:
            raise RuntimeError(f"The first request returned HTTP {status}: {body[:500]!r}; see {log_path}.")
        started_mib = resident_mib(worker_pid)
        failures = 0
        started = time.perf_counter()
        for index in range(args.requests):
            status, _body = client.request("GET", f"/api/v1/users/{order[index % len(order)]}/recommendations/?n=10")
            failures += status != 200
        seconds = time.perf_counter() - started
        client.close()
        peak_mib = common.peak_rss_mib(worker_pid)
        master_peak_mib = common.peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(60)
    print(f"web worker: {started_mib:.0f} MiB after the first request, peak {peak_mib:.0f} MiB after {args.requests} requests", flush=True)
    if failures:
        raise RuntimeError(f"{failures} of {args.requests} requests failed; see {log_path}.")
    return {
        "web_requests": args.requests,
        "web_requests_per_second": args.requests / seconds,
        "web_worker_rss_after_first_request_mib": started_mib,
        "web_worker_peak_rss_mib": peak_mib,
        "web_master_peak_rss_mib": master_peak_mib,
    }


def gunicorn_worker(master_pid: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError("gunicorn started no worker process.")


def measure_worker(args) -> dict:
    from semrec.celery import app
    from semrec.strategies.models import Strategy
    from semrec.training.models import TrainingRun
    from semrec.training.runs import enqueue

    with app.connection_for_write() as conn:
        for queue in (QUEUE, GPU_QUEUE):
            conn.default_channel.queue_purge(queue)
    strategy = Strategy.objects.get(tenant__slug=args.tenant, is_default=True)
    log_path = Path(os.environ["SEMREC_STATE_DIR"]) / "bench-memory-worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "semrec", "worker", "--pool", "solo", "-Q", f"{QUEUE},{GPU_QUEUE}",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
    ]
    with open(log_path, "w") as log:
        worker = subprocess.Popen(command, cwd=common.ROOT, env=child_environment(), stdout=log, stderr=subprocess.STDOUT)
    figures: dict = {}
    try:
        wait_for_log(log_path, "ready.", worker)
        figures["worker_rss_idle_mib"] = resident_mib(worker.pid)
        kinds = [("train", TrainingRun.Kind.TRAIN, {})]
        if not args.skip_encode:
            kinds.append(("encode", TrainingRun.Kind.ENCODE, {"force": True}))
        for label, kind, kwargs in kinds:
            run = enqueue(strategy, kind, **kwargs)
            started = time.perf_counter()
            run = wait_for_run(run, worker, log_path)
            figures[f"worker_{label}_seconds"] = time.perf_counter() - started
            figures[f"worker_peak_rss_after_{label}_mib"] = common.peak_rss_mib(worker.pid)
            print(f"worker: {label} run {run.status} in {figures[f'worker_{label}_seconds']:.1f}s, peak {figures[f'worker_peak_rss_after_{label}_mib']:.0f} MiB", flush=True)
    finally:
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return figures


def wait_for_log(path: Path, text: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"The Celery worker did not report {text!r}; see {path}.")
        time.sleep(0.5)


def wait_for_run(run, process: subprocess.Popen, log_path: Path, timeout: float = 1200.0):
    from semrec.training.models import TrainingRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == TrainingRun.Status.SUCCEEDED:
            return run
        if run.status == TrainingRun.Status.FAILED or process.poll() is not None:
            raise RuntimeError(f"Run {run.pk} ({run.kind}) ended as {run.status}: {run.error!r}; see {log_path}.")
        time.sleep(0.5)
    raise RuntimeError(f"Run {run.pk} ({run.kind}) did not finish within {timeout:.0f}s; see {log_path}.")


if __name__ == "__main__":
    main()
