"""Benchmark the admin's catalogue browser and charts on a tenant with a million events.

Loads ``--events`` events (1,000,000 by default) with PostgreSQL ``COPY`` into
a new tenant of the embedded database. The tenant also gets 10,000 end users,
20,000 items, two strategies, 60,000 served lists of the last 30 days (some
cited by click events) and evaluation results. VACUUM ANALYZE runs
afterwards, as autovacuum would.

Each admin page is requested through Django's test client (the whole Django
stack in this process, without HTTP) by a staff member of the tenant, and the
event list also by a superuser, who has every tenant. Each page gets one
warm-up request, then ``--repeat`` timed ones. The median and the minimum are
reported with the number of SQL queries of the last request and their time
(Django records it with DEBUG on, the default). For event pages the script
also reports whether any query counts rows of ``catalog_event``. Two SQL
floors are timed on the same connection: the bare page query (newest 101
events of the tenant) and the ``COUNT(*)`` that Django's stock paginator
would add to every event list page.

The tenant and its rows are deleted at the end unless ``--keep`` is given.
``--max-seconds`` bounds the load step: the script stops with an error
instead of running on when loading takes longer.

Usage: .venv/bin/python benchmarks/bench_admin.py [--events N] [--repeat N] [--keep] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from datetime import timedelta

import numpy as np

import common

USERS = 10_000
ITEMS = 20_000
SERVED_LISTS = 60_000
CHUNK = 100_000
#: Event kinds and their shares of the generated events.
KIND_SHARES = {"view": 0.60, "click": 0.20, "add_to_cart": 0.05, "purchase": 0.03, "like": 0.04, "rating": 0.03, "search": 0.05}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Events to load (default 1,000,000).")
    parser.add_argument("--repeat", type=int, default=5, help="Timed requests per page after one warm-up (default 5).")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="Stop with an error when loading takes longer (default 900).")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark tenant instead of deleting it at the end.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if args.events < CHUNK or args.repeat < 1:
        parser.error(f"--events must be at least {CHUNK:,} and --repeat at least 1.")

    common.print_header("admin pages on a large event table")
    common.setup_django()
    common.open_database()

    from semrec.tenants.models import Tenant

    slug = f"bench-admin-{time.strftime('%Y%m%d%H%M%S')}"
    tenant = Tenant.objects.create(slug=slug, name="Admin benchmark")
    results: dict = {"events": args.events}
    try:
        results.update(load(tenant, args.events, args.max_seconds))
        results.update(time_pages(tenant, args.repeat))
    finally:
        if not args.keep:
            delete_tenant(tenant)
    common.print_results(results, args.json)


def load(tenant, events: int, max_seconds: float) -> dict:
    """Create the tenant's users, items, strategies, served lists and events; return the load timings."""
    from django.db import connection

    started = time.perf_counter()
    rng = np.random.default_rng(7)
    user_pks, item_pks, strategy_pks = create_catalogue(tenant)
    served = copy_recommendations(tenant, strategy_pks, user_pks, rng)
    print(f"catalogue and {len(served):,} served lists in {time.perf_counter() - started:.1f}s", flush=True)

    copy_started = time.perf_counter()
    copy_events(tenant, events, user_pks, item_pks, served, rng, deadline=started + max_seconds)
    copy_seconds = time.perf_counter() - copy_started
    with connection.cursor() as cursor:
        # Autovacuum does the same after bulk inserts (PostgreSQL 13+); VACUUM also sets the
        # visibility map that index-only scans need.
        for table in ("catalog_event", "catalog_item", "catalog_user", "recommend_recommendation"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    create_evaluations(tenant, strategy_pks)
    total = time.perf_counter() - started
    print(f"loaded {events:,} events with COPY in {copy_seconds:.1f}s ({events / copy_seconds:,.0f}/s); setup total {total:.1f}s", flush=True)
    return {"load_seconds": total, "copy_events_per_second": events / copy_seconds}


def create_catalogue(tenant) -> tuple[np.ndarray, np.ndarray, list[int]]:
    from semrec.catalog.models import Item, User
    from semrec.strategies.models import Strategy

    User.objects.bulk_create((User(tenant=tenant, external_id=f"user-{index}") for index in range(USERS)), batch_size=5000)
    Item.objects.bulk_create(
        (
            Item(tenant=tenant, external_id=f"item-{index}", title=f"Item {index}", categories=[f"category-{index % 20}"], language="en")
            for index in range(ITEMS)
        ),
        batch_size=5000,
    )
    user_pks = np.array(tenant.users.order_by("pk").values_list("pk", flat=True))
    item_pks = np.array(tenant.items.order_by("pk").values_list("pk", flat=True))
    strategies = [
        Strategy.objects.create(tenant=tenant, name=name, scorer_id="popularity", intent_model_id="", is_default=name == "hybrid")
        for name in ("hybrid", "popular")
    ]
    return user_pks, item_pks, [strategy.pk for strategy in strategies]


def copy_recommendations(tenant, strategy_pks, user_pks, rng) -> list[tuple[str, float]]:
    """COPY the served lists of the last 30 days; return (id, served at as Unix seconds) of each."""
    import uuid

    from semrec.recommend.models import Recommendation

    now = time.time()
    served_at = now - rng.uniform(0, 30 * 86400, SERVED_LISTS)
    buffer = io.StringIO()
    served = []
    for index, moment in enumerate(served_at):
        recommendation_id = str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | index, version=4))
        strategy = strategy_pks[index % len(strategy_pks)]
        user = user_pks[index % len(user_pks)]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(moment))
        buffer.write(f"{recommendation_id}\t{tenant.pk}\t{strategy}\tuser\t{user}\t\\N\t\t[]\tf\t{stamp}\n")
        served.append((recommendation_id, moment))
    columns = "id, tenant_id, strategy_id, kind, user_id, source_item_id, query, items, fell_back, created_at"
    copy_text(f"COPY {Recommendation._meta.db_table} ({columns}) FROM STDIN", buffer.getvalue())
    return served


def copy_events(tenant, events: int, user_pks, item_pks, served, rng, deadline: float) -> None:
    """COPY ``events`` events of the last 60 days in chunks; 5% of the clicks cite a served list."""
    from semrec.catalog.models import Event

    kinds = np.array(list(KIND_SHARES))
    shares = np.array(list(KIND_SHARES.values()))
    served_ids = np.array([recommendation_id for recommendation_id, _moment in served])
    served_times = np.array([moment for _id, moment in served])
    columns = "tenant_id, user_id, item_id, kind, value, timestamp, query, idempotency_key, recommendation_id, created_at"
    now = time.time()
    created = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now))
    for first in range(0, events, CHUNK):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"Loading passed --max-seconds after {first:,} events; raise the limit or load fewer --events.")
        size = min(CHUNK, events - first)
        chunk_kinds = rng.choice(kinds, size=size, p=shares / shares.sum())
        users = rng.choice(user_pks, size=size)
        items = rng.choice(item_pks, size=size)
        moments = now - rng.uniform(0, 60 * 86400, size)
        cites = (chunk_kinds == "click") & (rng.random(size) < 0.05)
        picks = rng.integers(0, len(served_ids), size)
        buffer = io.StringIO()
        for index in range(size):
            kind = chunk_kinds[index]
            item = "\\N" if kind == "search" else str(items[index])
            query = "space travel" if kind == "search" else ""
            value = "4" if kind == "rating" else "\\N"
            moment = moments[index]
            recommendation = "\\N"
            if cites[index]:
                recommendation = served_ids[picks[index]]
                moment = served_times[picks[index]] + 60.0
            stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(moment))
            buffer.write(f"{tenant.pk}\t{users[index]}\t{item}\t{kind}\t{value}\t{stamp}\t{query}\t\\N\t{recommendation}\t{created}\n")
        copy_text(f"COPY {Event._meta.db_table} ({columns}) FROM STDIN", buffer.getvalue())
        print(f"  {first + size:,} events", flush=True)


def copy_text(statement: str, text: str) -> None:
    import psycopg

    with psycopg.connect(**common.raw_connection_params()) as conn, conn.cursor() as cursor:
        with cursor.copy(statement) as copy:
            copy.write(text)


def create_evaluations(tenant, strategy_pks) -> None:
    from django.utils import timezone

    from semrec.evaluation.models import EvaluationResult

    for day in range(0, 30, 3):
        for strategy, base in zip(strategy_pks, (0.40, 0.35), strict=True):
            result = EvaluationResult.objects.create(
                tenant=tenant, strategy_id=strategy, model_version=f"v{day}", protocol="random_by_user", seed=1, k=10, users=1000,
                precision=0.1, recall=0.2, ndcg=base + day / 1000, map=0.1, mrr=0.2, hit_rate=0.5, coverage=0.3,
            )
            EvaluationResult.objects.filter(pk=result.pk).update(created_at=timezone.now() - timedelta(days=day))


def time_pages(tenant, repeat: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from semrec.tenants.models import TenantMembership

    staff = get_user_model().objects.create_user(f"{tenant.slug}-staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=["catalog", "recommend", "evaluation"]))
    TenantMembership.objects.create(tenant=tenant, user=staff)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(staff)
    superuser = get_user_model().objects.create_superuser(f"{tenant.slug}-root")
    root_client = Client(HTTP_HOST="127.0.0.1")
    root_client.force_login(superuser)

    week_ago = (timezone.localdate() - timedelta(days=7)).isoformat()
    user = tenant.users.order_by("pk").first()
    pages = {
        "event_list": ("/admin/catalog/event/", {}),
        # A superuser's list is not filtered by tenant, so it orders the events of every tenant.
        "event_list_superuser": ("/admin/catalog/event/", {}),
        "event_list_superuser_tenant_filter": ("/admin/catalog/event/", {"tenant__id__exact": tenant.pk}),
        "event_list_kind_purchase": ("/admin/catalog/event/", {"kind__exact": "purchase"}),
        "event_list_last_7_days": ("/admin/catalog/event/", {"timestamp__gte": week_ago}),
        "event_list_page_50": ("/admin/catalog/event/", {"p": "50"}),
        "event_search_user_id": ("/admin/catalog/event/", {"q": user.external_id}),
        "item_list": ("/admin/catalog/item/", {}),
        "user_detail": (f"/admin/catalog/user/{user.pk}/change/", {}),
        "charts_30_days": ("/admin/insights/chart/", {"tenant": tenant.pk}),
    }
    results = {}
    try:
        for name, (path, params) in pages.items():
            timings = []
            page_client = root_client if "superuser" in name else client
            page_client.get(path, params)  # warm-up
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = page_client.get(path, params)
                    timings.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} {params} returned HTTP {response.status_code}")
            counts = [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"].upper() and '"catalog_event"' in query["sql"]]
            results[f"{name}_median_ms"] = statistics.median(timings) * 1000
            results[f"{name}_min_ms"] = min(timings) * 1000
            sql_ms = sum(float(query["time"]) for query in queries.captured_queries) * 1000
            results[f"{name}_queries"] = len(queries.captured_queries)
            results[f"{name}_sql_ms"] = sql_ms
            if name.startswith("event_"):
                results[f"{name}_counts_events"] = bool(counts)
            slowest = max(queries.captured_queries, key=lambda query: float(query["time"]))
            print(
                f"{name}: median {statistics.median(timings) * 1000:.1f} ms, {len(queries.captured_queries)} queries taking "
                f"{sql_ms:.1f} ms, slowest {float(slowest['time']) * 1000:.1f} ms: {slowest['sql'][:160]}",
                flush=True,
            )
        results.update(time_floors(tenant, repeat))
    finally:
        staff.delete()
        superuser.delete()
    return results


def time_floors(tenant, repeat: int) -> dict:
    """Time the bare page query and the COUNT(*) a stock paginator would add, in SQL on Django's connection."""
    from django.db import connection

    statements = {
        "sql_newest_101_events": "SELECT * FROM catalog_event WHERE tenant_id = %s ORDER BY timestamp DESC, id DESC LIMIT 101",
        "sql_count_tenant_events": "SELECT COUNT(*) FROM catalog_event WHERE tenant_id = %s",
    }
    results = {}
    with connection.cursor() as cursor:
        for name, sql in statements.items():
            timings = []
            cursor.execute(sql, [tenant.pk])
            cursor.fetchall()
            for _ in range(repeat):
                started = time.perf_counter()
                cursor.execute(sql, [tenant.pk])
                cursor.fetchall()
                timings.append(time.perf_counter() - started)
            results[f"{name}_median_ms"] = statistics.median(timings) * 1000
    return results


def delete_tenant(tenant) -> None:
    """Delete the tenant; events and served lists go first with plain SQL, because Django's cascade would load them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_event WHERE tenant_id = %s", [tenant.pk])
        events = cursor.rowcount
        cursor.execute("DELETE FROM recommend_recommendation WHERE tenant_id = %s", [tenant.pk])
    tenant.delete()
    print(f"deleted the benchmark tenant {tenant.slug} ({events:,} events)")


if __name__ == "__main__":
    main()
