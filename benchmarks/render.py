"""Markdown renderers for the JSON that the benchmark scripts write with ``--json``.

Each renderer takes the script's JSON object and returns the Markdown that
run_all.py puts between the benchmark's markers in docs/benchmarks.md. A
figure that a run did not produce (a quick run leaves some out) drops its row.
"""

from __future__ import annotations


def number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def stamp_line(stamp: dict) -> str:
    """Return the sentence that states how, when and where a block's figures were taken."""
    kind = " (quick run, smaller sizes)" if stamp.get("quick") else ""
    line = (
        f"Command: `{stamp['command']}`{kind}. Recorded on {stamp['date']} at commit `{stamp['commit']}` "
        f"on {stamp['machine']}, load average {stamp['load_average_at_start']} at the start and "
        f"{stamp['load_average_at_end']} at the end, {stamp['seconds']:.0f} s in all."
    )
    if stamp.get("note"):
        line += " " + stamp["note"].strip()
    return line


def ingest(results: dict) -> str:
    batch = results["batch_rows"]
    requests = -(-results["events"] // batch)
    copy_seconds = (results["copy_seconds_before_api"] + results["copy_seconds_after_api"]) / 2
    target = 20_000
    met = "met" if results["api_events_per_second"] >= target else "**not met**"
    rows = [
        (
            "`manage.py semrec_import --tenant X --create-tenant --path ../shared/datasets/ml-latest-small`",
            f"**{number(results['import_events_per_second'])} events/s** as the command prints it, "
            f"{results['import_command_wall_seconds']:.1f} s wall-clock with Python start-up and the item upserts",
        ),
        (
            f"`POST /api/v1/events/`, {requests} requests of up to {number(batch)} rows, one at a time",
            f"{results['api_seconds']:.2f} s, **{number(results['api_events_per_second'])} events/s** "
            f"(target {number(target)} events/s: {met})",
        ),
        (
            f"PostgreSQL `COPY` of the same rows into `catalog_event`, one COPY and one transaction per {number(batch)} rows",
            f"{results['copy_seconds_before_api']:.2f} s before and {results['copy_seconds_after_api']:.2f} s after the API run "
            f"(mean {copy_seconds:.2f} s), {number(results['copy_events_per_second'])} events/s",
        ),
        ("API time over COPY time", f"**{results['api_time_over_copy_time']:.2f}x**"),
    ]
    return table(("what", "figure"), rows)


def encode(results: dict) -> str:
    rows = [
        (
            "`manage.py semrec_encode --tenant X` on a new tenant, items per second as the command prints it",
            f"**{number(results['command_items_per_second'])} items/s** ({number(results['command_items'])} items in "
            f"{results['command_encode_seconds']:.1f} s, including the model load)",
        )
    ]
    if "reencode_items_per_second" in results:
        rows.append(
            (
                "the same command again with `--force`, into a space that has its HNSW index",
                f"{number(results['reencode_items_per_second'])} items/s, {results['reencode_over_command']:.2f}x of the first run",
            )
        )
    rows += [
        ("`TransformersEncoder.encode` in the benchmark process, per 1,024-item chunk", f"{number(results['plugin_items_per_second'])} items/s"),
        (
            f"bare loop: tokenizer + `AutoModel` + mean pooling, batch size {results['batch_size']}, item id order",
            f"{number(results['bare_items_per_second'])} items/s",
        ),
        ("bare loop with each chunk sorted by text length", f"{number(results['bare_sorted_items_per_second'])} items/s"),
        (
            f"loop that pads every batch to the longest text of the set ({results['longest_text_tokens']} tokens)",
            f"{number(results['pad_to_max_items_per_second'])} items/s",
        ),
    ]
    ratios = [
        ("command / bare loop", f"**{results['command_over_bare']:.2f}x**"),
        ("command / bare loop sorted by length", f"{results['command_over_bare_sorted']:.2f}x"),
        ("command / pad-to-longest loop", f"**{results['command_over_pad_to_max']:.2f}x**"),
        ("encoder plugin / bare loop sorted by length (same process, interleaved)", f"{results['plugin_over_bare_sorted']:.2f}x"),
        ("encoder plugin / pad-to-longest loop (same process, interleaved)", f"{results['plugin_over_pad_to_max']:.2f}x"),
    ]
    sample = f"The in-process loops ran on {number(results['loop_items'])} items."
    return table(("what", "figure"), rows) + "\n\n" + table(("ratio", "figure"), ratios) + "\n\n" + sample


def train(results: dict) -> str:
    rows = [
        (
            "training time (`fit` only) as the command prints it",
            f"median **{results['train_seconds_median']:.1f} s** ({results['train_seconds_min']:.1f} to "
            f"{results['train_seconds_max']:.1f} s over {results['runs']} runs)",
        ),
        (
            "command wall-clock time, including Python start-up, reading the events and saving the model",
            f"median {results['command_wall_seconds_median']:.1f} s",
        ),
    ]
    return table(("what", "figure"), rows)


def cf(results: dict) -> str:
    rows = [
        (
            f"ALS ({results['als_factors']} factors, {results['als_iterations']} iterations, "
            f"{number(results['als_users'])} users x {number(results['als_items'])} items)",
            f"{results['als_plugin_seconds_median']:.2f} s",
            f"{results['als_implicit_seconds_median']:.2f} s (`implicit`)",
            f"**{results['als_plugin_over_implicit']:.2f}x**",
        )
    ]
    differences = f"{results['als_max_abs_factor_difference']:.1e} (ALS item factors)"
    if "ease_plugin_seconds_median" in results:
        rows.append(
            (
                f"EASE (lambda {results['ease_regularization']:g}, {number(results['ease_items'])} items)",
                f"{results['ease_plugin_seconds_median']:.2f} s",
                f"{results['ease_numpy_seconds_median']:.2f} s (numpy)",
                f"**{results['ease_plugin_over_numpy']:.2f}x**",
            )
        )
        differences += f" and {results['ease_max_abs_weight_difference']:.1e} (EASE weights)"
    source = f"a synthetic matrix ({results['synthetic']})" if results.get("synthetic") else "ml-latest-small's ratings"
    note = (
        f"Medians of {results['repeat']} alternating fits each on {number(results['interactions'])} interactions of {source}. "
        f"The largest differences between the plugin's and the library's results: {differences}."
    )
    return table(("model", "plugin `fit`", "library called directly", "plugin / library"), rows) + "\n\n" + note


def recommend(results: dict) -> str:
    rows = [
        (
            f"`GET /api/v1/users/<id>/recommendations/?n={results['n']}` (default hybrid strategy)",
            f"{results['api_p50_ms']:.1f} ms",
            f"{results['api_p99_ms']:.1f} ms",
            f"{results['api_requests_per_second']:.1f} requests/s",
        ),
        (
            "raw nearest-neighbour query of the content scorer in a psycopg loop",
            f"{results['raw_p50_ms']:.1f} ms",
            f"{results['raw_p99_ms']:.1f} ms",
            f"{results['raw_queries_per_second']:.1f} queries/s",
        ),
        (
            "API over raw",
            f"{results['p50_api_over_raw']:.1f}x",
            f"**{results['p99_api_over_raw']:.1f}x**",
            f"**{results['throughput_api_over_raw']:.2f}x**",
        ),
    ]
    note = (
        f"{number(results['requests_each'])} requests of each kind over {number(results['distinct_users'])} users; "
        f"{results['http_errors']} HTTP errors, {results['fell_back']} lists from the fallback scorer, "
        f"{results['short_lists']} short lists."
    )
    return table(("what", "p50", "p99", "throughput"), rows) + "\n\n" + note


def load(results: dict) -> str:
    rows = []
    build_rows = []
    for size in results["sizes"]:
        figures = results[f"size_{size}"]
        label = number(figures["items"])
        dimension = figures.get("dimension", results["dimension"])
        if dimension != results["dimension"]:
            label += f" ({dimension} dimensions)"
        build = (
            f"{figures['index_build_seconds']:,.1f} s"
            if "index_build_seconds" in figures
            else f"cancelled after {figures['index_build_timed_out_after_seconds']:.0f} s"
        )
        index_mib = f"{figures['index_bytes'] / 2**20:,.0f} MiB" if "index_bytes" in figures else "-"
        vectors_mib = f"{figures['vector_column_bytes'] / 2**20:,.0f} MiB" if "vector_column_bytes" in figures else "-"
        build_rows.append(
            (
                label,
                f"{figures['write_vectors_seconds']:,.1f} s",
                build,
                str(figures.get("maintenance_work_mem", results["maintenance_work_mem"])),
                vectors_mib,
                index_mib,
                str(figures.get("index_build_load_average", "-")),
            )
        )
        if "api_p50_ms" not in figures:
            continue
        rows.append(
            (
                label,
                f"{figures['api_p50_ms']:,.0f} ms",
                f"{figures['api_p99_ms']:,.0f} ms",
                f"{figures['api_requests_per_second']:,.1f}/s",
                f"{figures['raw_p50_ms']:.1f} ms",
                f"{figures['raw_p99_ms']:.1f} ms",
                f"{figures['raw_queries_per_second']:,.1f}/s",
                f"{figures['p50_api_over_raw']:.1f}x",
                f"**{figures['p99_api_over_raw']:.1f}x**",
                f"**{figures['throughput_api_over_raw']:.2f}x**",
                f"{figures['load_average_1min_at_start']} / {figures['load_average_1min_at_end']}",
            )
        )
    latency = table(
        (
            "items",
            "API p50",
            "API p99",
            "API throughput",
            "raw p50",
            "raw p99",
            "raw throughput",
            "p50 ratio",
            "p99 ratio",
            "throughput ratio",
            "load average (start / end)",
        ),
        rows,
    )
    build = table(
        ("items", "writing the vectors (binary COPY)", "HNSW build", "`maintenance_work_mem`", "vector column", "HNSW index", "load average during the build"),
        build_rows,
    )
    failures = sum(results[f"size_{size}"].get("api_failures", 0) for size in results["sizes"])
    limit = results[f"size_{results['sizes'][0]}"].get("raw_query_limit")
    limit_text = f"raw query `LIMIT` {limit}; " if limit is not None else ""
    note = (
        f"{results['dimension']} dimensions, synthetic vectors; {results['concurrency']} concurrent clients, "
        f"gunicorn with {results['gunicorn_workers']} sync workers, {results['duration_seconds']} s per side and size, "
        f"`n={results['n']}`, {number(results['users'])} users with {results['history_per_user']} views each; "
        f"{limit_text}{failures} failed API requests."
    )
    return latency + "\n\n" + build + "\n\n" + note


def memory(results: dict) -> str:
    rows = []
    if "web_worker_rss_after_first_request_mib" in results:
        rows.append(
            (
                "gunicorn sync worker (DEBUG off), after its first recommendation request",
                f"{results['web_worker_rss_after_first_request_mib']:.0f} MiB (resident)",
            )
        )
    rows += [
        (
            f"the gunicorn worker after {number(results['web_requests'])} recommendation requests (default hybrid strategy)",
            f"**{results['web_worker_peak_rss_mib']:,.0f} MiB** (VmHWM)",
        ),
        ("gunicorn master", f"{results['web_master_peak_rss_mib']:.0f} MiB (VmHWM)"),
        ("Celery worker (`--pool solo`), idle after start-up", f"{results['worker_rss_idle_mib']:.0f} MiB (resident)"),
        (
            f"the Celery worker after training the default strategy ({results['worker_train_seconds']:.0f} s)",
            f"**{results['worker_peak_rss_after_train_mib']:,.0f} MiB** (VmHWM)",
        ),
    ]
    if "worker_peak_rss_after_encode_mib" in results:
        rows.append(
            (
                f"the Celery worker after encoding every item again ({results['worker_encode_seconds']:.0f} s)",
                f"**{results['worker_peak_rss_after_encode_mib']:,.0f} MiB** (VmHWM)",
            )
        )
    return table(("process", "memory"), rows)


def generic(results: dict) -> str:
    """Render any benchmark's JSON as a two-column table of its top-level figures."""
    rows = []
    for key, value in results.items():
        if key == "machine" or isinstance(value, (dict, list)):
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, float):
            text = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.1f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = str(value)
        rows.append((f"`{key}`", text))
    return table(("figure", "value"), rows)


def background(results: dict) -> str:
    """Render bench_background.py: runs on two workers under traffic, freshness, worker against bare loops."""
    runs = table(
        ("run", "duration", "progress samples (while running)", "stages seen"),
        [
            (
                "encode, `force: true`",
                f"{results['encode_duration_seconds']:.1f} s ({number(results['items'])} items, "
                f"{results['encode_items_per_second_under_load']:.1f} items/s)",
                f"{number(results['encode_progress_samples'])} ({number(results['encode_progress_samples_running'])})",
                results["encode_stages_seen"],
            ),
            (
                "train",
                f"{results['train_duration_seconds']:.1f} s (model versions {results['train_model_versions']})",
                f"{number(results['train_progress_samples'])} ({number(results['train_progress_samples_running'])})",
                results["train_stages_seen"],
            ),
        ],
    )

    def latency_row(label: str, prefix: str) -> tuple[str, ...]:
        return (
            label,
            number(results[f"{prefix}_requests"]),
            f"**{number(results[f'{prefix}_failed'])}**",
            f"{results[f'{prefix}_p50_ms']:.1f} ms",
            f"{results[f'{prefix}_p99_ms']:.1f} ms",
        )

    latency = table(
        ("recommendations", "requests", "failed", "p50", "p99"),
        [latency_row("before the runs", "recommend_before_jobs"), latency_row("while both runs ran", "recommend_during_jobs")],
    )
    freshness = table(
        ("freshness: POST an event, then request until the list changes", "figure"),
        [
            ("users (lists changed)", f"{number(results['freshness_users'])} ({number(results['freshness_changed'])} changed, {number(results['freshness_timeouts'])} timed out)"),
            ("p50 / p99 / max", f"**{results['freshness_p50_ms']:.1f} ms** / **{results['freshness_p99_ms']:.1f} ms** / {results['freshness_max_ms']:.1f} ms"),
            ("requests until the change, mean", f"{results['freshness_mean_requests_until_change']:.1f}"),
        ],
    )
    encode_rows = [
        (f"worker, encode run of {number(results['worker_encode_sample_items'])} items (model load included)", f"{results['worker_encode_sample_items_per_second']:.1f}", ""),
        ("worker, after its first batch (model load left out)", f"{results['worker_encode_sample_items_per_second_after_first_batch']:.1f}", ""),
        ("encoder plugin in the benchmark process", f"{results['plugin_items_per_second']:.1f}", ""),
        (
            f"bare loop, batch size {results['batch_size']}, item id order",
            f"{results['bare_items_per_second']:.1f}",
            f"{results['worker_over_bare']:.2f}x ({results['worker_after_first_batch_over_bare']:.2f}x after the first batch)",
        ),
        (
            "bare loop sorted by text length",
            f"{results['bare_sorted_items_per_second']:.1f}",
            f"{results['worker_over_bare_sorted']:.2f}x ({results['worker_after_first_batch_over_bare_sorted']:.2f}x)",
        ),
        (
            "loop padded to the longest text",
            f"{results['pad_to_max_items_per_second']:.1f}",
            f"{results['worker_over_pad_to_max']:.2f}x ({results['worker_after_first_batch_over_pad_to_max']:.2f}x)",
        ),
    ]
    encoding = table(("encoding throughput", "items/s", "worker / loop"), encode_rows)
    return "\n\n".join((runs, latency, freshness, encoding))


#: The pages bench_admin.py times, by the prefix of their figures.
ADMIN_PAGES = (
    ("event_list", "event list, staff of the tenant"),
    ("event_list_superuser", "event list, superuser (all tenants)"),
    ("event_list_superuser_tenant_filter", "event list, superuser, filtered by tenant"),
    ("event_list_kind_purchase", "events of kind purchase"),
    ("event_list_last_7_days", "events of the last 7 days"),
    ("event_list_page_50", "event list page 50"),
    ("event_search_user_id", "events searched by a user's external id"),
    ("item_list", "item list"),
    ("user_detail", "end-user page (history, vectors)"),
    ("charts_30_days", "charts, default 30 days"),
)


def admin(results: dict) -> str:
    """Render bench_admin.py: admin page times on a tenant with many events."""
    rows = []
    for prefix, label in ADMIN_PAGES:
        if f"{prefix}_median_ms" not in results:
            continue
        counts = results.get(f"{prefix}_counts_events")
        if counts is None:
            counts_text = "-"
        else:
            counts_text = "yes" if counts else "no"
        rows.append(
            (
                label,
                f"{results[f'{prefix}_median_ms']:.0f}",
                number(results[f"{prefix}_queries"]),
                f"{results[f'{prefix}_sql_ms']:.0f}",
                counts_text,
            )
        )
    pages = table(("page", "median ms", "SQL queries", "SQL ms", "counts `catalog_event`"), rows)
    floors = (
        f"{number(results['events'])} events, loaded by COPY at {number(results['copy_events_per_second'])} events/s. "
        f"SQL floors: the bare page query (newest 101 events of the tenant) took {results['sql_newest_101_events_median_ms']:.1f} ms, "
        f"and the `COUNT(*)` over the tenant's events that Django's stock paginator runs on every page took "
        f"{results['sql_count_tenant_events_median_ms']:.1f} ms."
    )
    return pages + "\n\n" + floors
