"""benchmarks/run_all.py: rewriting the marked blocks of a document, and rejecting bad names and documents.

No benchmark runs here: the end-to-end test renders saved JSON with --from-json.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "run_all.py"
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_all  # noqa: E402

DOCUMENT = """# Benchmarks

Prose before, with a table that is not generated:

| a | b |
|---|---|
| 1 | 2 |

<!-- bench:cf:start -->
old cf table
<!-- bench:cf:end -->

Prose between.

<!-- bench:train:start -->
old train table
<!-- bench:train:end -->

Prose after.
"""

CF_RESULTS = {
    "machine": {"cpus": 2},
    "interactions": 100836,
    "repeat": 3,
    "als_factors": 64,
    "als_iterations": 15,
    "als_users": 610,
    "als_items": 9724,
    "als_plugin_seconds_median": 0.52,
    "als_implicit_seconds_median": 0.5,
    "als_plugin_over_implicit": 1.04,
    "als_max_abs_factor_difference": 0.0,
    "ease_items": 5000,
    "ease_regularization": 500.0,
    "ease_plugin_seconds_median": 5.2,
    "ease_numpy_seconds_median": 5.0,
    "ease_plugin_over_numpy": 1.04,
    "ease_max_abs_weight_difference": 0.0,
}

STAMP = {
    "name": "cf",
    "command": ".venv/bin/python benchmarks/bench_cf.py --repeat 3",
    "date": "2026-12-05",
    "commit": "abc1234",
    "machine": "2 CPUs (test CPU), 23 GiB memory",
    "quick": False,
    "note": "Under shared load.",
    "load_average_at_start": 1.5,
    "load_average_at_end": 2.5,
    "seconds": 40.0,
}


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_replace_block_keeps_prose():
    rewritten = run_all.replace_block(DOCUMENT, "cf", "| new | table |\n")

    before, _, rest = DOCUMENT.partition("<!-- bench:cf:start -->")
    _, _, after = rest.partition("<!-- bench:cf:end -->")
    assert rewritten == before + "<!-- bench:cf:start -->\n| new | table |\n<!-- bench:cf:end -->" + after
    assert "old train table" in rewritten
    assert "old cf table" not in rewritten


def test_replace_block_twice_is_stable():
    once = run_all.replace_block(DOCUMENT, "train", "\n\nnew train table\n\n")
    twice = run_all.replace_block(once, "train", "new train table")

    assert once == twice
    assert "<!-- bench:train:start -->\nnew train table\n<!-- bench:train:end -->" in twice


@pytest.mark.parametrize(
    "document, message",
    [
        (DOCUMENT, "0 copies of the marker <!-- bench:load:start -->"),
        (DOCUMENT + "<!-- bench:cf:start -->\n", "2 copies of the marker <!-- bench:cf:start -->"),
        ("<!-- bench:cf:end -->\n<!-- bench:cf:start -->\n", "comes before"),
    ],
)
def test_replace_block_rejects_bad_markers(document, message):
    name = "load" if "load" in message else "cf"

    with pytest.raises(run_all.MarkerError) as caught:
        run_all.replace_block(document, name, "table")

    assert message in str(caught.value)


@pytest.mark.parametrize("option", ["--only", "--skip"])
def test_unknown_benchmark_name_rejected(option):
    completed = run_script(option, "cf,nope", "--no-doc")

    assert completed.returncode == 2
    assert f"Unknown benchmark name 'nope' in {option}." in completed.stderr
    assert "Known names: ingest, encode, train, cf, recommend, load, memory" in completed.stderr
    assert "benchmark(s)" not in completed.stdout


def test_document_without_markers_rejected_before_running(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text(DOCUMENT)

    completed = run_script("--only", "load", "--doc", str(document))

    assert completed.returncode == 2
    assert "0 copies of the marker <!-- bench:load:start -->" in completed.stderr
    assert document.read_text() == DOCUMENT


def test_from_json_renders_saved_results(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text(DOCUMENT)
    (tmp_path / "cf.json").write_text(json.dumps(CF_RESULTS))
    (tmp_path / "cf.stamp.json").write_text(json.dumps(STAMP))

    completed = run_script("--only", "cf,train", "--doc", str(document), "--from-json", str(tmp_path))

    assert completed.returncode == 0, completed.stderr
    text = document.read_text()
    assert "| ALS (64 factors, 15 iterations, 610 users x 9,724 items) | 0.52 s | 0.50 s (`implicit`) | **1.04x** |" in text
    assert "at commit `abc1234`" in text
    assert "load average 1.5 at the start and 2.5 at the end" in text
    assert "Under shared load." in text
    assert "old cf table" not in text
    # train has no saved JSON, so its block and all prose stay as they were.
    assert "old train table" in text
    assert text.startswith(DOCUMENT.split("<!-- bench:cf:start -->")[0])
    assert text.endswith(DOCUMENT.split("<!-- bench:cf:end -->")[1])
    assert "train: no train.json" in completed.stdout


def test_every_benchmark_has_markers_in_the_docs():
    text = (ROOT / "docs" / "benchmarks.md").read_text()

    for name in run_all.BENCHMARKS:
        run_all.check_markers(text, name)


def test_load_table_marks_cancelled_build_and_dimension():
    import render

    base = {
        "dimension": 384, "concurrency": 8, "gunicorn_workers": 2, "duration_seconds": 30, "n": 10, "users": 1000,
        "history_per_user": 20, "maintenance_work_mem": "auto",
    }
    measured = {
        "items": 10000, "dimension": 384, "write_vectors_seconds": 0.3, "index_build_seconds": 2.5, "maintenance_work_mem": "256MB",
        "index_bytes": 20 * 2**20, "vector_column_bytes": 15 * 2**20, "index_build_load_average": 1.0,
        "api_p50_ms": 150.0, "api_p99_ms": 1270.0, "api_requests_per_second": 51.8, "raw_p50_ms": 5.8, "raw_p99_ms": 20.1,
        "raw_queries_per_second": 1187.2, "p50_api_over_raw": 25.7, "p99_api_over_raw": 13.4, "throughput_api_over_raw": 0.04,
        "load_average_1min_at_start": 1.0, "load_average_1min_at_end": 2.0, "raw_query_limit": 30, "api_failures": 0,
    }
    cancelled = {"items": 1000000, "dimension": 64, "write_vectors_seconds": 20.0, "index_build_timed_out_after_seconds": 1200.0}
    results = {**base, "sizes": ["10000", "1000000x64"], "size_10000": measured, "size_1000000x64": cancelled}

    text = render.load(results)

    assert "| 10,000 | 150 ms | 1,270 ms | 51.8/s | 5.8 ms | 20.1 ms | 1,187.2/s |" in text
    assert "| 1,000,000 (64 dimensions) | 20.0 s | cancelled after 1200 s | auto | - | - | - |" in text
    assert "raw query `LIMIT` 30; 0 failed API requests." in text
