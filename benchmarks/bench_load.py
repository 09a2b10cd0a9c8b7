"""Benchmark recommendation latency under concurrent load, on synthetic catalogues of several sizes.

For each catalogue size the script:

1. creates a tenant ``bench-load-<size>-<timestamp>`` with ``size`` items and
   synthetic item vectors: clustered Gaussian vectors from numpy, written
   with a binary COPY. The tenant gets ``--users`` users with ``--history``
   view events each inside one cluster, and a default strategy with the
   ``content`` scorer, no intent model and no explainer;
2. builds the space's HNSW index with the SQL of
   ``EmbeddingSpace.ensure_index`` and times it, with
   ``maintenance_work_mem`` set to ``--maintenance-work-mem`` for that session;
3. serves the API with gunicorn (``--workers`` sync workers, DEBUG off) on
   127.0.0.1 and runs locust headless against
   ``GET /api/v1/users/<id>/recommendations/?n=N`` with ``--concurrency``
   users and no wait time, for ``--duration`` seconds;
4. runs the content scorer's raw nearest-neighbour query
   (``semrec.vectors.search.nearest_items_sql`` with the ``SET LOCAL``
   settings of ``nearest_items``) from ``--concurrency`` threads, one psycopg
   connection each, for the same users. It runs half the time before the API
   run and half after it, so drift falls on both;
5. deletes the tenant, its rows and the index.

The vectors are synthetic, so the figures say nothing about recommendation
quality: they measure the cost of the index and of serving. With
``--dimension`` other than 384 the space keeps the default encoder's
fingerprint, which only works because no request here encodes a query.

Usage: .venv/bin/python benchmarks/bench_load.py [--sizes 10000,100000,1000000] [--concurrency 8] [--duration 30]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psycopg

import common
from bench_recommend import prepare_queries, run_raw

CLUSTERS = 200
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile_recommend.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="Comma-separated catalogue sizes (items), each 1,000 to 5,000,000. SIZExDIMENSION, for example 1000000x64, "
        "sets the vector dimension of that size.",
    )
    parser.add_argument("--dimension", type=int, default=384, help="Vector dimension of sizes without their own (384 is the default encoder's).")
    parser.add_argument("--users", type=int, default=1000, help="Users with a history, per catalogue.")
    parser.add_argument("--history", type=int, default=20, help="View events per user.")
    parser.add_argument("--concurrency", type=int, default=8, help="Concurrent locust users, and threads of the raw query loop.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync worker processes.")
    parser.add_argument("--duration", type=int, default=30, help="Seconds of the locust run; the raw loop runs as long, in two halves.")
    parser.add_argument("-n", type=int, default=10, help="Items per recommendation list (the API's n).")
    parser.add_argument(
        "--maintenance-work-mem",
        default="auto",
        help="maintenance_work_mem for the HNSW build's session, for example 2GB; auto sizes it per catalogue "
        "at 1.25 x items x (4 x dimension + 708) bytes, at least 256 MB.",
    )
    parser.add_argument("--max-build-seconds", type=int, default=1200, help="statement_timeout of the HNSW build; a size whose build runs longer is reported and skipped.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the synthetic data.")
    parser.add_argument("--keep", action="store_true", help="Keep the last tenant and its index instead of deleting them.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    try:
        specs = [parse_size(part.strip(), args.dimension) for part in args.sizes.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers or SIZExDIMENSION, for example 10000,1000000x64; got {args.sizes!r}.")
    if not specs or any(not 1_000 <= size <= 5_000_000 for _, size, _ in specs):
        parser.error(f"Each of --sizes must be between 1,000 and 5,000,000 items; got {args.sizes!r}.")
    if not 1 <= args.concurrency <= 64 or not 1 <= args.workers <= 32:
        parser.error("--concurrency must be between 1 and 64, and --workers between 1 and 32.")
    if not 5 <= args.duration <= 600:
        parser.error("--duration must be between 5 and 600 seconds.")
    if any(not 2 <= dimension <= 2000 for _, _, dimension in specs):
        parser.error("Every vector dimension must be between 2 and 2,000 (pgvector's HNSW limit for vector).")
    if not 10 <= args.users <= 100_000 or not 1 <= args.history <= 1000:
        parser.error("--users must be between 10 and 100,000, and --history between 1 and 1,000.")
    locust = Path(sys.executable).with_name("locust")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    for tool, extra in ((locust, "bench"), (gunicorn, "production")):
        if not tool.exists():
            parser.error(f"{tool} is missing. Install the {extra} extra: .venv/bin/pip install -e '.[{extra}]'.")

    common.print_header("recommendation latency under concurrent load")
    common.setup_django()
    common.open_database()

    results: dict = {
        "dimension": args.dimension,
        "concurrency": args.concurrency,
        "gunicorn_workers": args.workers,
        "duration_seconds": args.duration,
        "n": args.n,
        "users": args.users,
        "history_per_user": args.history,
        "maintenance_work_mem": args.maintenance_work_mem,
        "synthetic_vectors": True,
    }
    for position, (label, size, dimension) in enumerate(specs):
        keep = args.keep and position == len(specs) - 1
        results[f"size_{label}"] = bench_size(size, dimension, args, keep=keep)
        print(json.dumps(results[f"size_{label}"], indent=1), flush=True)
    results["sizes"] = [label for label, _, _ in specs]
    common.print_results(results, args.json)


def parse_size(text: str, default_dimension: int) -> tuple[str, int, int]:
    """Return ``(label, items, dimension)`` for one entry of --sizes; raise ValueError when it is invalid."""
    size, separator, dimension = text.lower().replace("_", "").partition("x")
    if not separator:
        return size, int(size), default_dimension
    return f"{int(size)}x{int(dimension)}", int(size), int(dimension)


def bench_size(size: int, dimension: int, args, *, keep: bool) -> dict:
    """Build, serve and measure one synthetic catalogue of ``size`` items, then delete it."""
    from semrec.tenants.models import ApiKey, Tenant

    slug = f"bench-load-{size}-{time.strftime('%Y%m%d%H%M%S')}"
    figures: dict = {"items": size, "dimension": dimension, "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    tenant = Tenant.objects.create(slug=slug, name=slug)
    space = None
    try:
        space = create_catalogue(tenant, size, dimension, args, figures)
        built = build_index(space, args, figures)
        if not built:
            return figures
        queries = prepare_queries(slug, args.n)
        figures["users_with_vector"] = len(queries)
        figures["raw_query_limit"] = queries[0]["limit"]
        figures["raw_query_ef_search"] = queries[0]["ef_search"]
        api_key = ApiKey.issue(tenant, "benchmark")[1]
        raw_first = raw_load(queries, args.concurrency, args.duration / 2)
        figures.update(api_load(queries, api_key, args))
        raw_second = raw_load(queries, args.concurrency, args.duration / 2)
        raw_seconds = raw_first["latencies"] + raw_second["latencies"]
        raw = common.latency_summary(raw_seconds)
        figures.update({f"raw_{key}": value for key, value in raw.items()})
        figures["raw_requests"] = len(raw_seconds)
        figures["raw_queries_per_second"] = len(raw_seconds) / (raw_first["seconds"] + raw_second["seconds"])
        figures["p50_api_over_raw"] = figures["api_p50_ms"] / raw["p50_ms"]
        figures["p99_api_over_raw"] = figures["api_p99_ms"] / raw["p99_ms"]
        figures["throughput_api_over_raw"] = figures["api_requests_per_second"] / figures["raw_queries_per_second"]
        figures["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
        return figures
    finally:
        if not keep:
            delete_catalogue(tenant, space)


def create_catalogue(tenant, size: int, dimension: int, args, figures: dict):
    """Write the synthetic items, vectors, users and events of one catalogue and return its space."""
    from pgvector.psycopg import register_vector

    from semrec.catalog.models import Event, EventKind, Item, User
    from semrec.strategies.models import Strategy
    from semrec.strategies.plugins import build_plugins
    from semrec.vectors.models import EmbeddingSpace, ItemVector
    from semrec.vectors.spaces import get_or_create_space

    strategy = Strategy.objects.create(
        tenant=tenant, name="default", is_default=True, scorer_id="content", intent_model_id="", explainer_id=""
    )
    space = get_or_create_space(tenant, build_plugins(strategy).encoder)
    if space.dimension != dimension:
        EmbeddingSpace.objects.filter(pk=space.pk).update(dimension=dimension)
        space.refresh_from_db()

    rng = np.random.default_rng(args.seed)
    centroids = rng.standard_normal((CLUSTERS, dimension)).astype(np.float32)
    cluster_of = rng.integers(0, CLUSTERS, size)
    started = time.perf_counter()
    with psycopg.connect(**common.raw_connection_params()) as conn:
        register_vector(conn)
        with conn.cursor() as cursor:
            with cursor.copy(
                f"COPY {Item._meta.db_table} (tenant_id, external_id, title, description, tags, categories, attributes, "
                "available, language, text_hash, created_at, updated_at) FROM STDIN"
            ) as copy:
                for index in range(size):
                    copy.write_row((tenant.pk, f"i{index}", f"synthetic item {index}", "", "[]", "[]", "{}", True, "", "", "now", "now"))
            cursor.execute(f"SELECT id FROM {Item._meta.db_table} WHERE tenant_id = %s ORDER BY id", [tenant.pk])
            item_pks = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
        items_seconds = time.perf_counter() - started

        started = time.perf_counter()
        chunk = 20_000
        with conn.cursor() as cursor:
            with cursor.copy(
                f"COPY {ItemVector._meta.db_table} (space_id, item_id, embedding, text_hash, encoded_at) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["bigint", "bigint", "vector", "varchar", "timestamptz"])
                now = common_now()
                for start in range(0, size, chunk):
                    stop = min(start + chunk, size)
                    vectors = centroids[cluster_of[start:stop]] + 0.5 * rng.standard_normal((stop - start, dimension)).astype(np.float32)
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                    for offset in range(stop - start):
                        copy.write_row((space.pk, int(item_pks[start + offset]), vectors[offset], "", now))
        vectors_seconds = time.perf_counter() - started

    started = time.perf_counter()
    users = User.objects.bulk_create([User(tenant=tenant, external_id=f"u{index}") for index in range(args.users)])
    members: dict[int, np.ndarray] = {}
    events = []
    base = common_now()
    for index, user in enumerate(users):
        cluster = index % CLUSTERS
        if cluster not in members:
            members[cluster] = item_pks[cluster_of == cluster]
        pool = members[cluster] if len(members[cluster]) >= args.history else item_pks
        for position, item_pk in enumerate(rng.choice(pool, size=args.history, replace=False)):
            events.append(Event(tenant=tenant, user=user, item_id=int(item_pk), kind=EventKind.VIEW, timestamp=base, value=None))
    Event.objects.bulk_create(events, batch_size=5_000)
    events_seconds = time.perf_counter() - started

    figures.update(
        {
            "write_items_seconds": items_seconds,
            "write_vectors_seconds": vectors_seconds,
            "write_users_and_events_seconds": events_seconds,
            "events": len(events),
        }
    )
    print(
        f"{size:,} items in {items_seconds:.1f}s, their {dimension}-dimension vectors in {vectors_seconds:.1f}s, "
        f"{len(users):,} users and {len(events):,} events in {events_seconds:.1f}s",
        flush=True,
    )
    return space


def common_now():
    from django.utils import timezone

    return timezone.now()


def build_index(space, args, figures: dict) -> bool:
    """Build the space's HNSW index and record its time and size; return False when it timed out."""
    from semrec.vectors.models import ItemVector

    dimension = int(space.dimension)
    sql = (
        f"CREATE INDEX {space.index_name} ON {ItemVector._meta.db_table} "
        f"USING hnsw ((embedding::vector({dimension})) vector_cosine_ops) WHERE space_id = {int(space.pk)}"
    )
    with psycopg.connect(**common.raw_connection_params(), autocommit=True) as conn, conn.cursor() as cursor:
        memory = maintenance_work_mem(args.maintenance_work_mem, space.item_vectors.count(), dimension)
        figures["maintenance_work_mem"] = memory
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [memory])
        cursor.execute(f"SET statement_timeout = {int(args.max_build_seconds) * 1000}")
        print(f"building the HNSW index (maintenance_work_mem {memory}, at most {args.max_build_seconds}s) ...", flush=True)
        cursor.execute("SHOW max_parallel_maintenance_workers")
        figures["max_parallel_maintenance_workers"] = int(cursor.fetchone()[0])
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        try:
            cursor.execute(sql)
        except psycopg.errors.QueryCanceled:
            figures["index_build_timed_out_after_seconds"] = time.perf_counter() - started
            print(f"the HNSW build ran past {args.max_build_seconds}s and was cancelled; skipping the load runs for this size", flush=True)
            return False
        figures["index_build_seconds"] = time.perf_counter() - started
        figures["index_build_load_average"] = round((load_before + os.getloadavg()[0]) / 2, 2)
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SELECT pg_relation_size(%s::regclass)", [space.index_name])
        figures["index_bytes"] = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT sum(pg_column_size(embedding)), count(*) FROM {ItemVector._meta.db_table} WHERE space_id = %s", [space.pk]
        )
        vector_bytes, count = cursor.fetchone()
        figures["vector_column_bytes"] = int(vector_bytes)
        cursor.execute(f"ANALYZE {ItemVector._meta.db_table}")
    print(f"HNSW index built in {figures['index_build_seconds']:.1f}s, {figures['index_bytes'] / 2**20:,.0f} MiB for {count:,} vectors", flush=True)
    return True


def maintenance_work_mem(setting: str, items: int, dimension: int) -> str:
    """Return ``setting``, or for ``auto`` a size that fits the HNSW graph of ``items`` vectors during the build.

    pgvector's graph takes about the vector (4 bytes per dimension plus 8)
    and 700 bytes of neighbour lists per element at m = 16 (measured with
    pgvector 0.8.2; see docs/deployment.md). A graph that does not fit still
    builds, far more slowly.
    """
    if setting != "auto":
        return setting
    megabytes = 1.25 * items * (4 * dimension + 708) / 2**20
    return f"{max(256, int(megabytes) + 1)}MB"


def raw_load(queries: list[dict], concurrency: int, seconds: float) -> dict:
    """Run the raw nearest-neighbour query from ``concurrency`` threads for ``seconds``; return all latencies."""
    params = common.raw_connection_params()
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[BaseException] = []
    deadline = time.monotonic() + seconds

    def loop(slot: int) -> None:
        order = random.Random(slot).sample(queries, len(queries))
        try:
            with psycopg.connect(**params) as conn:
                run_raw(conn, order[0])  # connect and plan before timing
                index = 1
                while time.monotonic() < deadline:
                    latencies[slot].append(run_raw(conn, order[index % len(order)]))
                    index += 1
        except BaseException as err:  # reported in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=loop, args=(slot,)) for slot in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"The raw query loop failed: {errors[0]!r}") from errors[0]
    return {"latencies": [value for slot in latencies for value in slot], "seconds": elapsed}


def api_load(queries: list[dict], api_key: str, args) -> dict:
    """Serve the API with gunicorn and load it with locust; return locust's figures for the requests."""
    port = common.free_port()
    state_dir = Path(os.environ["SEMREC_STATE_DIR"])
    params = common.raw_connection_params()
    database_url = f"postgres://{params.get('user', 'postgres')}@{quote(params['host'], safe='')}"
    if params.get("port"):
        database_url += f":{params['port']}"
    database_url += f"/{params['dbname']}"
    environment = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "semrec-benchmark-only-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "PYTHONPATH": os.pathsep.join([str(common.ROOT / "platform"), str(common.ROOT / "plugins")]),
    }
    log_path = state_dir / f"bench-gunicorn-{port}.log"
    # The production settings of docker/gunicorn.conf.py, bound to loopback.
    environment["SEMREC_WEB_BIND"] = f"{common.HOST}:{port}"
    environment["WEB_CONCURRENCY"] = str(args.workers)
    command = [str(Path(sys.executable).with_name("gunicorn")), "--config", str(common.ROOT / "docker" / "gunicorn.conf.py"), "semrec.wsgi"]
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder, open(log_path, "w") as log:
        users_file = Path(folder) / "users.json"
        users_file.write_text(json.dumps([query["user_id"] for query in queries]))
        server = subprocess.Popen(command, cwd=common.ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, server, log_path)
            warm_up(port, api_key, queries, args)
            csv_prefix = Path(folder) / "locust"
            locust_command = [
                str(Path(sys.executable).with_name("locust")),
                "-f", str(LOCUSTFILE),
                "--headless",
                "--users", str(args.concurrency),
                "--spawn-rate", str(args.concurrency),
                "--run-time", f"{args.duration}s",
                "--host", f"http://{common.HOST}:{port}",
                "--csv", str(csv_prefix),
                "--only-summary",
                "--loglevel", "WARNING",
                "--stop-timeout", "30",
            ]
            locust_environment = {**os.environ, "BENCH_API_KEY": api_key, "BENCH_USERS_FILE": str(users_file), "BENCH_N": str(args.n)}
            print(f"locust: {args.concurrency} users for {args.duration}s against gunicorn ({args.workers} workers) on port {port}", flush=True)
            completed = subprocess.run(
                locust_command, cwd=common.ROOT, env=locust_environment, capture_output=True, text=True, timeout=args.duration + 120
            )
            if completed.returncode not in (0, 1):
                raise RuntimeError(f"locust failed with exit status {completed.returncode}:\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}")
            figures = read_locust_stats(Path(f"{csv_prefix}_stats.csv"))
            figures["gunicorn_worker_peak_rss_mib"] = worker_peak_rss_mib(server.pid)
        finally:
            stop_process(server)
    if figures["api_failures"]:
        print(f"{figures['api_failures']:,} API requests failed; see {log_path}", flush=True)
    return figures


def wait_for_port(port: int, server: subprocess.Popen, log_path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not common.port_accepts(port):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}; see {log_path}.")
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not accept connections within {timeout:.0f}s; see {log_path}.")
        time.sleep(0.2)


def warm_up(port: int, api_key: str, queries: list[dict], args) -> None:
    """Send a few requests per worker so that each worker has loaded its strategy before timing."""
    client = common.ApiClient(port, api_key, quickack=False)
    for query in queries[: 5 * args.workers]:
        status, body = client.request("GET", f"/api/v1/users/{query['user_id']}/recommendations/?n={args.n}")
        if status != 200:
            raise RuntimeError(f"Warm-up request returned HTTP {status}: {body[:500]!r}")
        client.close()  # a new connection each time, so gunicorn spreads them over its workers


def read_locust_stats(path: Path) -> dict:
    with open(path, newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = rows.get("Aggregated")
    if row is None or int(row["Request Count"]) == 0:
        raise RuntimeError(f"locust recorded no requests ({path}).")
    return {
        "api_requests": int(row["Request Count"]),
        "api_failures": int(row["Failure Count"]),
        "api_p50_ms": float(row["50%"]),
        "api_p99_ms": float(row["99%"]),
        "api_mean_ms": float(row["Average Response Time"]),
        "api_max_ms": float(row["Max Response Time"]),
        "api_requests_per_second": float(row["Requests/s"]),
    }


def worker_peak_rss_mib(master_pid: int) -> float | None:
    """Return the largest VmHWM among the gunicorn master's child processes, in MiB."""
    peaks = []
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        peak = common.peak_rss_mib(int(pid))
        if peak is not None:
            peaks.append(peak)
    return max(peaks) if peaks else None


def stop_process(process: subprocess.Popen) -> None:
    """Stop gunicorn with SIGTERM (graceful shutdown), then SIGKILL after 30 seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def delete_catalogue(tenant, space) -> None:
    """Delete the tenant; its big tables first with plain SQL, which Django's cascade would walk row by row."""
    from django.db import connection, transaction

    from semrec.catalog.models import Event, Item, User
    from semrec.recommend.models import Recommendation
    from semrec.vectors.models import ItemVector, UserVector

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if space is not None:
            cursor.execute(f"DROP INDEX IF EXISTS {space.index_name}")
        for model in (ItemVector, UserVector):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE space_id IN (SELECT id FROM vectors_embeddingspace WHERE tenant_id = %s)", [tenant.pk])
        for model in (Recommendation, Event, Item, User):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE tenant_id = %s", [tenant.pk])
    tenant.delete()
    print(f"deleted tenant {tenant.slug} in {time.perf_counter() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
