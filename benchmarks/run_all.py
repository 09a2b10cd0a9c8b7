"""Run the benchmark scripts and rewrite their tables in docs/benchmarks.md.

Each benchmark runs as ``python benchmarks/<script> ... --json FILE``. Its
figures are rendered as Markdown and replace the text between the markers
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->`` of the
document, which leaves the prose around them alone. Every rendered block
starts with a stamp: the command, the date, the commit, the machine and the
load average at the start and end of the run.

The JSON files and a log of each script's output go to ``--out`` (default:
``$SEMREC_STATE_DIR/bench-results/<timestamp>``). ``--from-json DIR``
renders the files of an earlier run without running anything.

``--quick`` runs smaller sizes for a smoke test. A quick run leaves the
document alone unless ``--doc FILE`` is given, so that smoke figures do not
replace recorded ones by accident.

Usage: .venv/bin/python benchmarks/run_all.py [--only NAME] [--skip NAME] [--quick] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import render

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_DOC = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script, its arguments for a full and a quick run, and the renderer of its JSON."""

    name: str
    script: str
    render: Callable[[dict], str]
    full_args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = ()
    timeout_seconds: int = 1800
    #: A script that another change adds. While it is missing, the run skips it and prints a line.
    optional: bool = False
    note: str = field(default="")


BENCHMARKS: dict[str, Benchmark] = {
    benchmark.name: benchmark
    for benchmark in (
        Benchmark("ingest", "bench_ingest.py", render.ingest, timeout_seconds=1200),
        Benchmark("encode", "bench_encode.py", render.encode, ("--reencode",), ("--sample", "256"), timeout_seconds=3600),
        Benchmark("train", "bench_train.py", render.train, ("--repeat", "3"), ("--repeat", "1"), timeout_seconds=1200),
        Benchmark("cf", "bench_cf.py", render.cf, ("--repeat", "5"), ("--repeat", "1"), timeout_seconds=1200),
        Benchmark(
            "recommend", "bench_recommend.py", render.recommend, (), ("--requests", "100", "--warmup", "5"), timeout_seconds=1200
        ),
        Benchmark(
            "load",
            "bench_load.py",
            render.load,
            ("--sizes", "10000,100000,1000000"),
            ("--sizes", "2000", "--duration", "10", "--users", "100"),
            timeout_seconds=3 * 3600,
        ),
        Benchmark("memory", "bench_memory.py", render.memory, (), ("--requests", "50", "--skip-encode"), timeout_seconds=1800),
        Benchmark(
            "background",
            "bench_background.py",
            render.background,
            (),
            ("--workers", "1", "--baseline-seconds", "3", "--freshness-users", "5", "--loop-sample", "128", "--max-seconds", "600"),
            timeout_seconds=2400,
            optional=True,
        ),
        Benchmark("admin", "bench_admin.py", render.admin, (), ("--events", "100000", "--repeat", "1"), timeout_seconds=1800, optional=True),
    )
}


class MarkerError(ValueError):
    """The document lacks a benchmark's markers, or has them more than once or out of order."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def check_markers(text: str, name: str) -> tuple[int, int]:
    """Return the offsets of the end of ``name``'s start marker and of the start of its end marker.

    Raises MarkerError unless each marker occurs exactly once, start before end.
    """
    start_marker, end_marker = markers(name)
    for marker in (start_marker, end_marker):
        count = text.count(marker)
        if count != 1:
            raise MarkerError(
                f"The document has {count} copies of the marker {marker}; it needs exactly one. "
                f"Put {start_marker} and {end_marker} on lines of their own around the block of benchmark '{name}'."
            )
    start = text.index(start_marker) + len(start_marker)
    end = text.index(end_marker)
    if end < start:
        raise MarkerError(f"The marker {end_marker} comes before {start_marker}; swap them.")
    return start, end


def replace_block(text: str, name: str, block: str) -> str:
    """Return ``text`` with the lines between ``name``'s markers replaced by ``block``; the rest stays byte for byte."""
    start, end = check_markers(text, name)
    return text[:start] + "\n" + block.strip("\n") + "\n" + text[end:]


def parse_names(values: list[str] | None, option: str, parser: argparse.ArgumentParser) -> list[str]:
    """Split the comma-separated names given to ``option`` and reject unknown ones."""
    names = [name.strip() for value in values or [] for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"Unknown benchmark name {unknown[0]!r} in {option}. Known names: {', '.join(BENCHMARKS)}."
        )
    return names


def git_commit() -> str:
    """Return the short commit id, with a note when tracked files have uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} with uncommitted changes" if dirty else commit


def machine_line() -> str:
    cpus = os.cpu_count()
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal:"))
            memory = f", {kib / 2**20:.0f} GiB memory"
    except (OSError, StopIteration):
        pass
    return f"{cpus} CPUs ({model}){memory}"


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run_benchmark(benchmark: Benchmark, args, out: Path) -> dict | None:
    """Run one benchmark script and return its stamp (with its figures under ``results``), or None when it failed."""
    json_path = out / f"{benchmark.name}.json"
    extra = benchmark.quick_args if args.quick else benchmark.full_args
    command = [sys.executable, str(BENCH_DIR / benchmark.script), *extra, "--json", str(json_path)]
    shown_command = " ".join([".venv/bin/python", f"benchmarks/{benchmark.script}", *extra])
    stamp = {
        "name": benchmark.name,
        "command": shown_command,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "commit": git_commit(),
        "machine": machine_line(),
        "quick": args.quick,
        "note": args.note,
        "load_average_at_start": load_average(),
    }

    log_path = out / f"{benchmark.name}.log"
    json_path.unlink(missing_ok=True)  # a file left by an earlier run into the same folder must not count as this run's
    print(f"   command: {shown_command}\n   log: {log_path}", flush=True)
    started = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint
        )
        copier = threading.Thread(target=copy_output, args=(process.stdout, log, args.verbose), daemon=True)
        copier.start()
        try:
            process.wait(benchmark.timeout_seconds)
        except subprocess.TimeoutExpired:
            # SIGINT first, so that the script stops its servers and deletes its tenants as after Ctrl+C.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            print(f"   timed out after {benchmark.timeout_seconds}s; see {log_path}", flush=True)
            return None
        finally:
            copier.join(10)

    stamp["seconds"] = round(time.perf_counter() - started, 1)
    stamp["load_average_at_end"] = load_average()
    if process.returncode != 0 or not json_path.exists():
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-15:])
        print(f"   failed with exit status {process.returncode} after {stamp['seconds']}s; last lines:\n{tail}", flush=True)
        return None
    (out / f"{benchmark.name}.stamp.json").write_text(json.dumps(stamp, indent=2) + "\n")
    stamp["results"] = json.loads(json_path.read_text())
    return stamp


def default_sigint() -> None:
    """Restore SIGINT's default action in a child, which a shell's background job starts with SIGINT ignored.

    Python installs its KeyboardInterrupt handler only when SIGINT is not
    ignored at start-up, and the timeout in run_benchmark relies on that handler.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def copy_output(stream, log, verbose: bool) -> None:
    """Copy a script's output to its log, and to this terminal with ``verbose``."""
    for line in stream:
        log.write(line)
        log.flush()
        if verbose:
            print(f"   | {line}", end="", flush=True)


def load_saved(benchmark: Benchmark, folder: Path) -> dict | None:
    """Return the stamp and figures that an earlier run saved in ``folder``, or None when there are none."""
    json_path = folder / f"{benchmark.name}.json"
    stamp_path = folder / f"{benchmark.name}.stamp.json"
    if not json_path.exists() or not stamp_path.exists():
        return None
    stamp = json.loads(stamp_path.read_text())
    stamp["results"] = json.loads(json_path.read_text())
    return stamp


def write_block(doc: Path, benchmark: Benchmark, stamp: dict) -> None:
    try:
        body = benchmark.render(stamp["results"])
    except KeyError as err:
        # A run with other options can leave out a figure the table needs.
        print(f"   the {benchmark.name} results lack {err}, so its block lists the figures as they are", flush=True)
        body = render.generic(stamp["results"])
    block = render.stamp_line(stamp) + "\n\n" + body
    doc.write_text(replace_block(doc.read_text(), benchmark.name, block))
    print(f"   rewrote the {benchmark.name} block of {doc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help=f"Run only these benchmarks (comma-separated or repeated): {', '.join(BENCHMARKS)}.")
    parser.add_argument("--skip", action="append", metavar="NAME", help="Leave out these benchmarks (comma-separated or repeated).")
    parser.add_argument("--quick", action="store_true", help="Run smaller sizes, as a smoke test; the document is left alone unless --doc is given.")
    parser.add_argument("--doc", type=Path, help=f"Markdown file whose marked blocks are rewritten (default: {DEFAULT_DOC.relative_to(ROOT)}).")
    parser.add_argument("--no-doc", action="store_true", help="Write no document, only the JSON files.")
    parser.add_argument("--out", type=Path, help="Folder for the JSON files and logs (default: $SEMREC_STATE_DIR/bench-results/<timestamp>).")
    parser.add_argument("--from-json", type=Path, metavar="DIR", help="Render the JSON files that an earlier run left in DIR instead of running.")
    parser.add_argument("--note", default="", help="Sentence added to every stamp, for example how busy the machine was.")
    parser.add_argument("--verbose", action="store_true", help="Print each script's output as it runs, not only to its log.")
    parser.add_argument("--list", action="store_true", help="List the benchmarks and exit.")
    args = parser.parse_args(argv)

    only = parse_names(args.only, "--only", parser)
    skip = parse_names(args.skip, "--skip", parser)
    if args.list:
        for benchmark in BENCHMARKS.values():
            present = "" if (BENCH_DIR / benchmark.script).exists() else " (script missing)"
            print(f"{benchmark.name:<12} benchmarks/{benchmark.script}{present}")
        return 0
    selected = [benchmark for name, benchmark in BENCHMARKS.items() if (not only or name in only) and name not in skip]
    if not selected:
        parser.error("--only and --skip leave no benchmark to run.")

    if args.no_doc:
        doc = None
    elif args.doc is not None:
        doc = args.doc
    else:
        doc = None if args.quick else DEFAULT_DOC
    if doc is not None:
        if not doc.is_file():
            parser.error(f"The document {doc} does not exist. Pass --doc with an existing Markdown file, or --no-doc.")
        text = doc.read_text()
        for benchmark in selected:
            try:
                check_markers(text, benchmark.name)
            except MarkerError as err:
                parser.error(str(err))

    if args.from_json is not None:
        if not args.from_json.is_dir():
            parser.error(f"--from-json {args.from_json} is not a folder.")
        if doc is None:
            parser.error("--from-json needs a document to write; leave out --no-doc, or pass --doc with --quick.")
        for benchmark in selected:
            stamp = load_saved(benchmark, args.from_json)
            if stamp is None:
                print(f"{benchmark.name}: no {benchmark.name}.json and {benchmark.name}.stamp.json in {args.from_json}; left alone")
                continue
            try:
                write_block(doc, benchmark, stamp)
            except (KeyError, TypeError, ValueError) as err:
                print(f"{benchmark.name}: rendering failed ({err!r}); the document was left alone")
        return 0

    state_dir = Path(os.environ.get("SEMREC_STATE_DIR", "/tmp/semrec-bench"))
    out = args.out or state_dir / "bench-results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(selected)} benchmark(s){' (quick)' if args.quick else ''} on {machine_line()}, commit {git_commit()}")
    print(f"results: {out}; document: {doc or 'none'}", flush=True)

    failed, skipped = [], []
    for position, benchmark in enumerate(selected, start=1):
        script = BENCH_DIR / benchmark.script
        print(f"[{position}/{len(selected)}] {benchmark.name} (load average {load_average()}, {time.strftime('%H:%M:%S')})", flush=True)
        if not script.exists():
            if benchmark.optional:
                print(f"   benchmarks/{benchmark.script} does not exist yet; skipped", flush=True)
                skipped.append(benchmark.name)
                continue
            failed.append(benchmark.name)
            print(f"   benchmarks/{benchmark.script} is missing", flush=True)
            continue
        stamp = run_benchmark(benchmark, args, out)
        if stamp is None:
            failed.append(benchmark.name)
            continue
        print(f"   done in {stamp['seconds']}s (load average {stamp['load_average_at_end']} at the end)", flush=True)
        if doc is not None:
            try:
                write_block(doc, benchmark, stamp)
            except (KeyError, TypeError, ValueError) as err:
                # The JSON stays in --out, so the block can be rendered later with --from-json.
                print(f"   rendering the {benchmark.name} block failed ({err!r}); the document was left alone", flush=True)
                failed.append(benchmark.name)

    print(f"finished: {len(selected) - len(failed) - len(skipped)} ran, {len(skipped)} skipped, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
