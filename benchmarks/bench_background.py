"""Benchmark background runs: re-encode and retrain on Celery workers while the API serves recommendations.

Setup, not timed: the tenant (``--tenant``) is imported from ``--path`` with
``semrec_import``, then encoded and trained in this process where that was
not done yet. Then this script starts, all on 127.0.0.1, a dev server
(``manage.py runserver --noreload``) and ``--workers`` Celery worker
processes (solo pool) on a Redis broker (``--broker``), on two queues named
after this process so that no other worker takes the tasks.

1. Jobs under traffic. One client thread requests
   ``GET /api/v1/users/<id>/recommendations/`` back to back over users with
   events. After ``--baseline-seconds`` of that, the script starts a forced
   re-encode and a retrain with ``POST /api/v1/runs/`` and polls
   ``GET /api/v1/runs/<id>/`` every ``--poll-interval`` seconds until both
   finish or ``--max-seconds`` pass. Reported: each run's duration, last
   progress and progress samples seen, and the re-encode's items per second.
   That rate comes from its result, or from its progress samples when it did
   not finish. Also reported: recommendation p50/p99 before and during the
   runs, and requests that failed (HTTP status other than 200, or a
   connection error).
2. Freshness. For ``--freshness-users`` users, one at a time: fetch the list,
   POST a click on its first item (citing the recommendation id) to
   ``/api/v1/events/``, then request the list again back to back until it
   differs. Measured from the start of the POST to the response that shows
   the change, at most ``--freshness-timeout`` seconds per user. A re-encode
   that has not finished still runs on a worker meanwhile.
3. Encoding throughput. The workers are stopped (a run they leave unfinished
   is marked failed) and one new worker starts. The vectors of a random
   sample of ``--loop-sample`` items are deleted, and an encode run without
   force encodes exactly those on the worker. Its items per second come from
   the run's result (the encode stage, model load included) and from its
   progress samples after the first batch (model load left out). Then
   ``bench_encode.bench_loops`` runs the encoder plugin and the bare
   transformers loops in this process on the same sample of item texts.

Every process this script starts is stopped before it exits, also on errors
and Ctrl+C.

Usage: .venv/bin/python benchmarks/bench_background.py [--broker redis://127.0.0.1:6379/0] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import common

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default="bench-background", help="Tenant slug; imported, encoded and trained first where needed.")
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with the unpacked ml-latest-small files.")
    parser.add_argument("--broker", default=os.environ.get("SEMREC_BENCH_BROKER_URL", DEFAULT_BROKER), help="Redis broker URL on 127.0.0.1.")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes to start (1 to 8).")
    parser.add_argument("--port", type=int, default=0, help="Port for the dev server on 127.0.0.1, or 0 for a free port.")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="Seconds of recommendation traffic before the runs start.")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="Seconds between two GET /api/v1/runs/<id>/ requests.")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="Give up on the runs after this many seconds.")
    parser.add_argument("--freshness-users", type=int, default=50, help="Users in the freshness test (0 skips it).")
    parser.add_argument("--freshness-timeout", type=float, default=10.0, help="Seconds to wait for one user's list to change.")
    parser.add_argument("--loop-sample", type=int, default=1024, help="Item texts for the in-process loops (0 skips the encoding comparison).")
    parser.add_argument("-n", type=int, default=10, help="Items per recommendation list.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the user order.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be between 1 and 8.")
    if args.poll_interval <= 0 or args.max_seconds <= 0 or args.freshness_timeout <= 0:
        parser.error("--poll-interval, --max-seconds and --freshness-timeout must be positive.")

    common.print_header("background runs")
    common.setup_django()
    common.open_database()
    common.prepare_tenant(args.tenant, args.path, encode=True, train=True)

    # Set after the setup, so that the setup commands run eagerly; the server
    # and the workers started below inherit these.
    queue = f"bench-background-{os.getpid()}"
    os.environ.update(CELERY_BROKER_URL=args.broker, SEMREC_DEFAULT_QUEUE=queue, SEMREC_GPU_QUEUE=f"{queue}-gpu")
    print(f"broker {args.broker}, queues {queue} and {queue}-gpu", flush=True)

    from semrec.tenants.models import ApiKey, Tenant

    tenant = Tenant.objects.get(slug=args.tenant)
    api_key = ApiKey.issue(tenant, "benchmark")[1]
    users = list(tenant.users.filter(events__isnull=False).distinct().values_list("external_id", flat=True))
    random.Random(args.seed).shuffle(users)
    port = args.port or common.free_port()

    results: dict = {"tenant": args.tenant, "items": tenant.items.count(), "users": len(users), "workers": args.workers}
    queues = f"{queue},{queue}-gpu"
    with common.DevServer(port):
        with Workers(args.workers, queues) as workers:
            workers.wait_ready()
            results.update(bench_runs_under_traffic(port, api_key, users, args))
            if args.freshness_users:
                results.update(bench_freshness(port, api_key, users[: args.freshness_users], args))
        fail_unfinished_runs(tenant)
        if args.loop_sample:
            with Workers(1, queues) as workers:
                workers.wait_ready()
                results.update(bench_worker_encode(port, api_key, tenant, args))
    if args.loop_sample:
        results.update(bench_loops(args.tenant, args.loop_sample, args.seed, results))
    common.print_results(results, args.json)
    return 0


def fail_unfinished_runs(tenant) -> None:
    """Mark the runs that the stopped workers left queued or running as failed, so that none looks alive."""
    from semrec.training.models import TrainingRun, finish_run

    for run in TrainingRun.objects.filter(tenant=tenant, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]):
        finish_run(run, error="Stopped by bench_background.py: --max-seconds passed before the run finished.")
        print(f"run {run.pk} ({run.kind}) did not finish and is marked failed", flush=True)


class Workers:
    """``celery worker`` processes on the given queues, stopped on exit with a warm shutdown (SIGTERM)."""

    def __init__(self, count: int, queues: str, start_timeout: float = 180.0):
        self.count = count
        self.queues = queues
        self.start_timeout = start_timeout
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def __enter__(self) -> Workers:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(common.ROOT / "platform"), str(common.ROOT / "plugins")])}
        for index in range(self.count):
            log_path = Path(os.environ["SEMREC_STATE_DIR"]) / f"bench-worker-{os.getpid()}-{index}.log"
            with open(log_path, "w") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "semrec", "worker", "--pool", "solo", "-Q", self.queues,
                     "--hostname", f"bench{index}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "--loglevel", "INFO"],
                    cwd=common.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            self.processes.append((process, log_path))
            print(f"worker {index}: pid {process.pid} (log: {log_path})", flush=True)
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        for process, log_path in self.processes:
            while " ready." not in log_path.read_text():
                if process.poll() is not None:
                    raise RuntimeError(f"Worker pid {process.pid} exited with status {process.returncode}; see {log_path}.")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Worker pid {process.pid} was not ready within {self.start_timeout:.0f}s; see {log_path}.")
                time.sleep(0.5)

    def __exit__(self, *exc_info) -> None:
        # SIGTERM lets a worker finish its task (warm shutdown), SIGQUIT
        # abandons it (cold shutdown), and SIGKILL is the last resort.
        for sig, wait_seconds in ((signal.SIGTERM, 10), (signal.SIGQUIT, 30), (signal.SIGKILL, 30)):
            running = [(process, log_path) for process, log_path in self.processes if process.poll() is None]
            for process, log_path in running:
                if sig != signal.SIGTERM:
                    print(f"worker pid {process.pid} is still running; sending {sig.name} (log: {log_path})", flush=True)
                process.send_signal(sig)
            for process, _log_path in running:
                try:
                    process.wait(wait_seconds)
                except subprocess.TimeoutExpired:
                    pass


class RecommendationClient(threading.Thread):
    """Requests recommendation lists back to back and records (start time, seconds, ok) for each."""

    def __init__(self, port: int, api_key: str, users: list[str], n: int):
        super().__init__(daemon=True)
        self.client = common.ApiClient(port, api_key, timeout=30.0)
        self.users = users
        self.n = n
        self.samples: list[tuple[float, float, bool]] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        index = 0
        while not self.stopping.is_set():
            user = self.users[index % len(self.users)]
            index += 1
            started = time.monotonic()
            try:
                status, body = self.client.request("GET", f"/api/v1/users/{user}/recommendations/?n={self.n}")
                ok = status == 200
                if not ok:
                    self.failures.append(f"HTTP {status} for user {user}: {body[:200]!r}")
            except OSError as err:
                ok = False
                self.failures.append(f"{type(err).__name__} for user {user}: {err}")
            self.samples.append((started, time.monotonic() - started, ok))
        self.client.close()

    def window(self, start: float, end: float) -> dict:
        """Return latency figures and failures of the requests that started between ``start`` and ``end``."""
        inside = [(seconds, ok) for started, seconds, ok in self.samples if start <= started < end]
        succeeded = [seconds for seconds, ok in inside if ok]
        summary = common.latency_summary(succeeded) if succeeded else {}
        return {"requests": len(inside), "failed": len(inside) - len(succeeded), **summary}


def bench_runs_under_traffic(port: int, api_key: str, users: list[str], args) -> dict:
    api = common.ApiClient(port, api_key)
    traffic = RecommendationClient(port, api_key, users, args.n)
    traffic.start()
    try:
        baseline_start = time.monotonic()
        time.sleep(args.baseline_seconds)
        jobs_start = time.monotonic()
        runs = {
            "encode": start_run(api, {"kind": "encode", "force": True}),
            "train": start_run(api, {"kind": "train"}),
        }
        samples = follow_runs(api, runs, args.poll_interval, args.max_seconds)
        jobs_end = time.monotonic()
    finally:
        traffic.stopping.set()
        traffic.join(timeout=60)
        api.close()

    results: dict = {}
    for name, run_id in runs.items():
        final = samples[run_id][-1]
        if final["status"] == "failed":
            raise RuntimeError(f"The {name} run {run_id} failed: {final['error']}")
        seen = samples[run_id]
        results[f"{name}_run_id"] = run_id
        results[f"{name}_finished"] = final["status"] == "succeeded"
        results[f"{name}_duration_seconds"] = final["duration_seconds"]
        results[f"{name}_last_progress"] = f"{final['stage']} {final['done']}/{final['total']}"
        results[f"{name}_progress_samples"] = len(seen)
        results[f"{name}_progress_samples_running"] = sum(sample["status"] == "running" for sample in seen)
        results[f"{name}_stages_seen"] = ", ".join(dict.fromkeys(sample["stage"] for sample in seen if sample["stage"]))
        results[f"{name}_model_versions"] = ", ".join(str(version["id"]) for version in final["model_versions"]) or "none"
    results["encode_items_per_second_under_load"] = stage_rate(samples[runs["encode"]], "encode items")
    results["jobs_wall_seconds"] = jobs_end - jobs_start
    for label, window in (("before_jobs", traffic.window(baseline_start, jobs_start)), ("during_jobs", traffic.window(jobs_start, jobs_end))):
        for key, value in window.items():
            results[f"recommend_{label}_{key}"] = value
    for failure in traffic.failures[:5]:
        print(f"failed request: {failure}")
    return results


def stage_rate(samples: list[dict], stage: str) -> float | None:
    """Return units per second in ``stage``: from the run's result when it finished, else from its progress samples."""
    final = samples[-1]
    if final["status"] == "succeeded":
        return final["result"].get("items_per_second")
    return progress_rate(samples, stage)


def progress_rate(samples: list[dict], stage: str) -> float | None:
    """Return units per second in ``stage`` between its first and last sample with progress, so model loading is left out."""
    inside = [sample for sample in samples if sample["stage"] == stage and sample["done"]]
    if len(inside) < 2 or inside[-1]["seconds"] == inside[0]["seconds"]:
        return None
    return (inside[-1]["done"] - inside[0]["done"]) / (inside[-1]["seconds"] - inside[0]["seconds"])


def start_run(api: common.ApiClient, body: dict) -> int:
    status, payload = api.request("POST", "/api/v1/runs/", json.dumps(body).encode())
    if status != 202:
        raise RuntimeError(f"POST /api/v1/runs/ {body} returned HTTP {status}: {payload[:500]!r}")
    run = json.loads(payload)
    print(f"started {run['kind']} run {run['id']} ({run['status']})", flush=True)
    return run["id"]


def follow_runs(api: common.ApiClient, runs: dict[str, int], interval: float, max_seconds: float) -> dict[int, list[dict]]:
    """Poll each run until all have finished or ``max_seconds`` passed; return every body seen per run id, with its time."""
    samples: dict[int, list[dict]] = {run_id: [] for run_id in runs.values()}
    started = time.monotonic()
    pending = set(runs.values())
    while pending:
        if time.monotonic() - started > max_seconds:
            print(f"runs {sorted(pending)} did not finish within --max-seconds {max_seconds:.0f}; stopped following them", flush=True)
            break
        for run_id in sorted(pending):
            status, payload = api.request("GET", f"/api/v1/runs/{run_id}/")
            if status != 200:
                raise RuntimeError(f"GET /api/v1/runs/{run_id}/ returned HTTP {status}: {payload[:500]!r}")
            body = {**json.loads(payload), "seconds": round(time.monotonic() - started, 2)}
            previous = samples[run_id][-1] if samples[run_id] else None
            samples[run_id].append(body)
            if previous is None or (previous["stage"], previous["done"], previous["status"]) != (body["stage"], body["done"], body["status"]):
                eta = "-" if body["eta_seconds"] is None else f"{body['eta_seconds']:.0f}s"
                print(
                    f"{body['seconds']:7.1f}s run {run_id} {body['kind']}: {body['status']}, {body['stage'] or '-'} "
                    f"{body['done']}/{body['total']} ({body['percent']:.0f}%), eta {eta}",
                    flush=True,
                )
            if body["status"] in ("succeeded", "failed"):
                pending.discard(run_id)
        time.sleep(interval)
    return samples


def bench_freshness(port: int, api_key: str, users: list[str], args) -> dict:
    api = common.ApiClient(port, api_key)
    seconds: list[float] = []
    polls: list[int] = []
    timeouts = 0
    try:
        for user in users:
            outcome = measure_freshness(api, user, args.n, args.freshness_timeout)
            if outcome is None:
                timeouts += 1
                continue
            seconds.append(outcome[0])
            polls.append(outcome[1])
    finally:
        api.close()
    summary = common.latency_summary(seconds) if seconds else {}
    results = {"freshness_users": len(users), "freshness_changed": len(seconds), "freshness_timeouts": timeouts}
    results.update({f"freshness_{key}": value for key, value in summary.items()})
    if polls:
        results["freshness_mean_requests_until_change"] = sum(polls) / len(polls)
    return results


def measure_freshness(api: common.ApiClient, user: str, n: int, timeout: float) -> tuple[float, int] | None:
    """Click the first item of ``user``'s list; return the seconds and requests until the list changed, or None on timeout."""
    path = f"/api/v1/users/{user}/recommendations/?n={n}"
    before = recommendation(api, path)
    if not before["items"]:
        return None
    event = {
        "user_id": user,
        "item_id": before["items"][0]["id"],
        "kind": "click",
        "recommendation_id": before["recommendation_id"],
    }
    started = time.monotonic()
    status, payload = api.request("POST", "/api/v1/events/", json.dumps([event]).encode())
    if status != 200:
        raise RuntimeError(f"POST /api/v1/events/ returned HTTP {status}: {payload[:500]!r}")
    ids = [item["id"] for item in before["items"]]
    requests = 0
    while time.monotonic() - started < timeout:
        requests += 1
        if [item["id"] for item in recommendation(api, path)["items"]] != ids:
            return time.monotonic() - started, requests
    print(f"freshness: the list of user {user} did not change within {timeout:.0f}s", flush=True)
    return None


def recommendation(api: common.ApiClient, path: str) -> dict:
    status, payload = api.request("GET", path)
    if status != 200:
        raise RuntimeError(f"GET {path} returned HTTP {status}: {payload[:500]!r}")
    return json.loads(payload)


def bench_worker_encode(port: int, api_key: str, tenant, args) -> dict:
    """Encode the --loop-sample items on one worker, alone, and return its items per second.

    The sample's vectors are deleted first, so an encode run without force
    encodes exactly the texts that ``bench_encode.bench_loops`` then encodes.
    """
    import bench_encode

    from semrec.vectors.models import ItemVector

    texts, pks = bench_encode.item_texts(tenant)
    chosen = sorted(random.Random(args.seed).sample(range(len(texts)), args.loop_sample)) if args.loop_sample < len(texts) else range(len(texts))
    deleted = ItemVector.objects.filter(item_id__in=[pks[index] for index in chosen]).delete()[0]
    print(f"deleted the vectors of {deleted:,} sampled items, to encode them again on a worker", flush=True)
    api = common.ApiClient(port, api_key)
    try:
        run_id = start_run(api, {"kind": "encode"})
        samples = follow_runs(api, {"encode": run_id}, args.poll_interval, args.max_seconds)[run_id]
    finally:
        api.close()
    final = samples[-1]
    if final["status"] != "succeeded":
        raise RuntimeError(f"The encode run {run_id} ended {final['status']}: {final['error']}")
    return {
        "worker_encode_sample_items": final["result"]["items_encoded"],
        "worker_encode_sample_encode_seconds": final["result"]["encode_seconds"],
        "worker_encode_sample_items_per_second": final["result"]["items_per_second"],
        "worker_encode_sample_items_per_second_after_first_batch": progress_rate(samples, "encode items"),
        "worker_encode_sample_duration_seconds": final["duration_seconds"],
    }


def bench_loops(tenant: str, sample: int, seed: int, worker: dict) -> dict:
    """Run bench_encode's in-process loops on the same item texts and compare the worker's rates with them.

    The worker's result rate includes loading the model, which the loops do
    before timing, so the rate after the first batch is compared too.
    """
    import bench_encode

    loops = bench_encode.bench_loops(tenant, sample, seed)
    keys = ("loop_items", "batch_size", "plugin_items_per_second", "bare_items_per_second", "bare_sorted_items_per_second",
            "pad_to_max_items_per_second", "max_abs_difference_bare_to_stored")
    results = {key: loops[key] for key in keys}
    steady = worker["worker_encode_sample_items_per_second_after_first_batch"]
    for loop in ("bare", "bare_sorted", "pad_to_max"):
        results[f"worker_over_{loop}"] = worker["worker_encode_sample_items_per_second"] / loops[f"{loop}_items_per_second"]
        if steady:
            results[f"worker_after_first_batch_over_{loop}"] = steady / loops[f"{loop}_items_per_second"]
    return results


if __name__ == "__main__":
    sys.exit(main())
