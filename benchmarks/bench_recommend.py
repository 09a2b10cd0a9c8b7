"""Benchmark recommendation latency: the REST API against the raw pgvector query it depends on.

1. ``GET /api/v1/users/<id>/recommendations/?n=N`` on a local
   ``manage.py runserver 127.0.0.1:PORT --noreload``, sent by one client over
   one kept-alive connection, one request at a time. The client sets
   TCP_QUICKACK, which removes a delayed-ACK wait of about 40 ms per response
   that runserver's two-part writes cause (see ``common.ApiClient``);
   ``--no-quickack`` measures with that wait.
2. The nearest-neighbour query of the content scorer
   (``semrec.vectors.search.nearest_items_sql``) in a psycopg loop, for the
   same users in the same order: the same user vector, excluded items, LIMIT
   and ``SET LOCAL`` settings as ``semrec.vectors.search.nearest_items`` uses,
   in one transaction per query. User vectors and excluded items are computed
   before timing.

The two run in alternating blocks of ``--block`` requests, so that load from
other processes falls on both alike. Users are the tenant's users with a user
vector, shuffled with a fixed seed and repeated until ``--requests`` is
reached. Throughput is requests per second of that single sequential client.
``--warmup`` requests of each kind come first and are not recorded.

Usage: .venv/bin/python benchmarks/bench_recommend.py [--tenant bench] [--requests 1000] [--port PORT]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import psycopg

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default="bench", help="Tenant slug. The tenant is imported from --path, encoded and trained first where needed.")
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with the unpacked ml-latest-small files.")
    parser.add_argument("--port", type=int, default=0, help="Port for the dev server on 127.0.0.1, or 0 for a free port chosen by the OS.")
    parser.add_argument("--requests", type=int, default=1000, help="Measured requests of each kind (1 to 100,000).")
    parser.add_argument("--warmup", type=int, default=20, help="Unrecorded requests of each kind before measuring.")
    parser.add_argument("--block", type=int, default=100, help="Requests of one kind before switching to the other.")
    parser.add_argument("-n", type=int, default=10, help="Items per recommendation list (the API's n).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the user order.")
    parser.add_argument(
        "--no-quickack", action="store_true", help="Leave TCP delayed ACK on in the client (adds about 40 ms per response with runserver)."
    )
    parser.add_argument("--max-seconds", type=float, default=300.0, help="Stop measuring after this many seconds, at a block boundary.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        parser.error("--requests must be between 1 and 100,000.")
    if args.block < 1 or args.warmup < 0:
        parser.error("--block must be at least 1 and --warmup at least 0.")

    common.print_header("recommendation latency")
    common.setup_django()
    common.open_database()
    common.prepare_tenant(args.tenant, args.path, encode=True, train=True)

    queries = prepare_queries(args.tenant, args.n)
    order = random.Random(args.seed).sample(queries, len(queries))
    plan = [order[index % len(order)] for index in range(args.requests)]
    warmup = [order[index % len(order)] for index in range(args.warmup)]
    print(f"{len(queries):,} users with a user vector; {args.requests:,} requests over {len(set(q['user_id'] for q in plan)):,} distinct users")

    from semrec.tenants.models import ApiKey, Tenant

    api_key = ApiKey.issue(Tenant.objects.get(slug=args.tenant), "benchmark")[1]
    port = args.port or common.free_port()
    api_seconds: list[float] = []
    raw_seconds: list[float] = []
    problems = {"http_errors": 0, "fell_back": 0, "short_lists": 0}
    with common.DevServer(port), psycopg.connect(**common.raw_connection_params()) as conn:
        client = common.ApiClient(port, api_key, quickack=not args.no_quickack)
        for query in warmup:
            call_api(client, query, args.n, problems)
            run_raw(conn, query)
        problems = dict.fromkeys(problems, 0)

        deadline = time.monotonic() + args.max_seconds
        for start in range(0, len(plan), args.block):
            block = plan[start : start + args.block]
            api_seconds += [call_api(client, query, args.n, problems) for query in block]
            raw_seconds += [run_raw(conn, query) for query in block]
            if time.monotonic() > deadline:
                print(f"stopped after {len(api_seconds):,} requests of each kind: --max-seconds {args.max_seconds:.0f} reached")
                break
        client.close()

    api = common.latency_summary(api_seconds)
    raw = common.latency_summary(raw_seconds)
    results = {
        "requests_each": len(api_seconds),
        "distinct_users": len({query["user_id"] for query in plan[: len(api_seconds)]}),
        "n": args.n,
        "client_quickack": client.quickack,
        "raw_query_limit": plan[0]["limit"],
        "raw_query_ef_search": plan[0]["ef_search"],
        **{f"api_{key}": value for key, value in api.items()},
        "api_requests_per_second": len(api_seconds) / sum(api_seconds),
        **{f"raw_{key}": value for key, value in raw.items()},
        "raw_queries_per_second": len(raw_seconds) / sum(raw_seconds),
        "p50_api_over_raw": api["p50_ms"] / raw["p50_ms"],
        "p99_api_over_raw": api["p99_ms"] / raw["p99_ms"],
        "throughput_api_over_raw": sum(raw_seconds) / sum(api_seconds),
        **problems,
    }
    common.print_results(results, args.json)


def prepare_queries(tenant_slug: str, n: int) -> list[dict]:
    """Return, per user with a user vector, the content scorer's nearest-neighbour query parameters."""
    from semrec.catalog.history import load_history
    from semrec.plugins import get_registry
    from semrec.recommend.context import DatabaseContext
    from semrec.recommend.service import CANDIDATE_MARGIN, resolve_strategy
    from semrec.strategies.plugins import build_plugins
    from semrec.tenants.models import Tenant
    from semrec.vectors import search
    from semrec.vectors.spaces import find_space

    tenant = Tenant.objects.get(slug=tenant_slug)
    strategy = resolve_strategy(tenant, None)
    space = find_space(tenant, build_plugins(strategy).encoder)
    if space is None:
        raise RuntimeError(f"Tenant '{tenant_slug}' has no vectors for its default strategy. Run manage.py semrec_encode --tenant {tenant_slug}.")

    # The service requests n + CANDIDATE_MARGIN items from the scorer, and the
    # hybrid scorer requests at least its ``candidates`` setting from each
    # sub-scorer, content included.
    limit = n + CANDIDATE_MARGIN
    if strategy.scorer_id == "hybrid":
        limit = max(limit, get_registry().get("scorer", "hybrid").validate_config(strategy.scorer_config).candidates)
    # Same ef_search rule as semrec.vectors.search.nearest_items.
    ef_search = min(max(limit, 40), search.MAX_EF_SEARCH)
    sql = search.nearest_items_sql(space)

    options = strategy.parsed_options()
    queries = []
    for user_pk, external_id in tenant.users.order_by("id").values_list("id", "external_id"):
        history, seen = load_history(user_pk, options)
        context = DatabaseContext(space=space, tenant_id=tenant.pk, strategy_id=strategy.pk, user_id=user_pk, history=history, exclude=seen)
        vector = context.user_vector
        if vector is None:
            continue
        queries.append(
            {
                "user_id": external_id,
                "sql": sql,
                "params": {"vector": search.vector_literal(vector), "space": space.pk, "exclude": sorted(seen), "limit": limit},
                "limit": limit,
                "ef_search": ef_search,
            }
        )
    if not queries:
        raise RuntimeError(f"No user of tenant '{tenant_slug}' has a user vector.")
    return queries


def call_api(client: common.ApiClient, query: dict, n: int, problems: dict) -> float:
    started = time.perf_counter()
    status, body = client.request("GET", f"/api/v1/users/{query['user_id']}/recommendations/?n={n}")
    seconds = time.perf_counter() - started
    if status != 200:
        problems["http_errors"] += 1
        if problems["http_errors"] <= 3:
            print(f"HTTP {status} for user {query['user_id']}: {body[:300]!r}")
        return seconds
    payload = json.loads(body)
    problems["fell_back"] += bool(payload["fell_back"])
    problems["short_lists"] += len(payload["items"]) < n
    return seconds


def run_raw(conn, query: dict) -> float:
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(f"SET LOCAL hnsw.ef_search = {query['ef_search']}")
        cursor.execute(query["sql"], query["params"])
        rows = cursor.fetchall()
    seconds = time.perf_counter() - started
    if not rows:
        raise RuntimeError(f"The raw nearest-neighbour query returned no rows for user {query['user_id']}.")
    return seconds


if __name__ == "__main__":
    main()
