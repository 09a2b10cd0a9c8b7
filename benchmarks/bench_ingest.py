"""Benchmark event ingest: the MovieLens import command, the bulk events API, and raw COPY.

Three figures, each into a new tenant so that no row is a duplicate:

1. ``manage.py semrec_import --tenant X --create-tenant --path DATASET``: the
   events per second that the command prints, and its wall-clock time.
2. The ratings of the same dataset sent to ``POST /api/v1/events/`` of a
   local dev server in batches of ``--batch`` rows, one request at a time.
3. The same rows written with PostgreSQL ``COPY`` into the same table
   (``catalog_event``), one COPY and one transaction per batch, once before
   and once after the API run. Their mean is the floor the API is compared with.

Items, users and the JSON request bodies are prepared before any timing. The
COPY tenant's users are created beforehand too, because COPY cannot create
them; the API creates its users inside the timed requests.

Usage: .venv/bin/python benchmarks/bench_ingest.py [--path DIR] [--port PORT] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import common

REQUEST_TIMEOUT = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with the unpacked ml-latest-small files.")
    parser.add_argument("--port", type=int, default=0, help="Port for the dev server on 127.0.0.1, or 0 for a free port chosen by the OS.")
    parser.add_argument("--batch", type=int, default=10_000, help="Events per API request and per COPY (at most 10,000).")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark tenants instead of deleting them at the end.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.batch <= 10_000:
        parser.error("--batch must be between 1 and 10,000, the API's maximum batch size.")

    common.print_header("event ingest")
    common.setup_django()
    common.open_database()

    from semrec.tenants.models import Tenant

    stamp = time.strftime("%Y%m%d%H%M%S")
    slugs = {name: f"bench-{name}-{stamp}" for name in ("import", "api", "copy1", "copy2")}
    results: dict = {}
    try:
        results.update(bench_import_command(slugs["import"], args.path))
        results.update(bench_api_and_copy(slugs, args))
    finally:
        if not args.keep:
            deleted = Tenant.objects.filter(slug__in=slugs.values()).delete()[0]
            print(f"deleted the benchmark tenants ({deleted:,} rows)")
    common.print_results(results, args.json)


def bench_import_command(slug: str, dataset: Path) -> dict:
    args = ["semrec_import", "--tenant", slug, "--create-tenant", "--path", str(dataset), "-v", "0"]
    print(f"running: manage.py {' '.join(args)}", flush=True)
    wall_seconds, output = common.manage(*args, timeout=600)
    line = common.parse_rate(r"Imported .*\(([\d,]+) events/s\)", output)
    print(line.group(0))
    created = common.to_float(common.parse_rate(r"(\d+) new events", output).group(1))
    return {
        "import_events": int(created),
        "import_events_per_second": common.to_float(line.group(1)),
        "import_command_wall_seconds": wall_seconds,
    }


def bench_api_and_copy(slugs: dict[str, str], args) -> dict:
    from semrec.catalog import ingest
    from semrec.tenants.models import ApiKey, Tenant

    items = read_items(args.path / "movies.csv")
    events = read_ratings(args.path / "ratings.csv")
    batches = [events[start : start + args.batch] for start in range(0, len(events), args.batch)]
    bodies = [json.dumps(batch).encode() for batch in batches]
    print(f"{len(events):,} events in {len(batches)} batches of up to {args.batch:,}; {len(items):,} items")

    tenants = {name: Tenant.objects.create(slug=slug, name=slug) for name, slug in slugs.items() if name != "import"}
    port = args.port or common.free_port()
    with common.DevServer(port):
        clients = {name: common.ApiClient(port, ApiKey.issue(tenant, "benchmark")[1], REQUEST_TIMEOUT) for name, tenant in tenants.items()}
        for name, client in clients.items():
            post_ok(client, "/api/v1/items/", json.dumps(items).encode())
        for name in ("copy1", "copy2"):
            ingest.ensure_users(tenants[name], {event["user_id"] for event in events})

        copy1_seconds = copy_events(tenants["copy1"], batches)
        print(f"COPY before the API run: {copy1_seconds:.2f}s")

        started = time.perf_counter()
        for body in bodies:
            response = post_ok(clients["api"], "/api/v1/events/", body)
            if response["created"] + response["duplicates"] == 0:
                raise RuntimeError(f"The events API stored nothing for a batch: {response}")
        api_seconds = time.perf_counter() - started
        print(f"API: {api_seconds:.2f}s")

        copy2_seconds = copy_events(tenants["copy2"], batches)
        print(f"COPY after the API run: {copy2_seconds:.2f}s")
        for client in clients.values():
            client.close()

    for name in ("api", "copy1", "copy2"):
        stored = tenants[name].events.count()
        if stored != len(events):
            raise RuntimeError(f"Tenant {tenants[name].slug} stored {stored:,} events, expected {len(events):,}.")

    copy_seconds = (copy1_seconds + copy2_seconds) / 2
    return {
        "events": len(events),
        "batch_rows": args.batch,
        "api_seconds": api_seconds,
        "api_events_per_second": len(events) / api_seconds,
        "copy_seconds_before_api": copy1_seconds,
        "copy_seconds_after_api": copy2_seconds,
        "copy_events_per_second": len(events) / copy_seconds,
        "api_time_over_copy_time": api_seconds / copy_seconds,
    }


def post_ok(client: common.ApiClient, path: str, body: bytes) -> dict:
    status, payload = client.request("POST", path, body)
    if status != 200:
        raise RuntimeError(f"POST {path} returned HTTP {status}: {payload[:1000]!r}")
    return json.loads(payload)


def copy_events(tenant, batches: list[list[dict]]) -> float:
    """COPY ``batches`` into the events table for ``tenant`` and return the seconds the COPY took.

    Row tuples are built before timing, so only the COPY itself is measured.
    """
    import psycopg
    from django.utils import timezone as django_timezone

    from semrec.catalog.models import Event

    user_pks = dict(tenant.users.values_list("external_id", "id"))
    item_pks = dict(tenant.items.values_list("external_id", "id"))
    fields = [field for field in Event._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(field.column for field in fields)
    now = django_timezone.now()
    row_batches = []
    for batch in batches:
        rows = []
        for event in batch:
            values = {
                "tenant": tenant.pk,
                "user": user_pks[event["user_id"]],
                "item": item_pks[event["item_id"]],
                "kind": event["kind"],
                "value": event["value"],
                "timestamp": datetime.fromtimestamp(event["timestamp"], tz=timezone.utc),
                "query": "",
                "idempotency_key": event["idempotency_key"],
                "recommendation_id": None,
                "created_at": now,
            }
            rows.append(tuple(values[field.name] for field in fields))
        row_batches.append(rows)

    with psycopg.connect(**common.raw_connection_params()) as conn:
        started = time.perf_counter()
        for rows in row_batches:
            with conn.transaction(), conn.cursor() as cursor:
                with cursor.copy(f"COPY {Event._meta.db_table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        return time.perf_counter() - started


def read_items(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            {"id": row["movieId"], "title": row["title"], "categories": [genre for genre in row["genres"].split("|") if genre != "(no genres listed)"]}
            for row in csv.DictReader(handle)
        ]


def read_ratings(path: Path) -> list[dict]:
    """Read ratings as API event rows, keyed like the importer's (``ml:<user>:<movie>``)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            {
                "user_id": row["userId"],
                "item_id": row["movieId"],
                "kind": "rating",
                "value": float(row["rating"]),
                "timestamp": int(row["timestamp"]),
                "idempotency_key": f"ml:{row['userId']}:{row['movieId']}",
            }
            for row in csv.DictReader(handle)
        ]


if __name__ == "__main__":
    main()
