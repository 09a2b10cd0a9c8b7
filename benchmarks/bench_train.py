"""Benchmark training: ``manage.py semrec_train --tenant X`` on the tenant's default strategy.

With the default hybrid strategy the only trainable plugin is collaborative
filtering (ALS, 64 factors, 15 iterations). Each of ``--repeat`` runs trains
and activates a new model version. The script prints the training seconds
that the command reports, which cover ``fit`` only, and the command's
wall-clock time, which adds Python start-up, reading the interactions and
saving the model.

Usage: .venv/bin/python benchmarks/bench_train.py [--tenant bench] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default="bench", help="Tenant slug. A tenant without events is imported from --path first.")
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with the unpacked ml-latest-small files.")
    parser.add_argument("--repeat", type=int, default=3, help="Number of training runs (1 to 20).")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be between 1 and 20.")

    common.print_header("training")
    common.setup_django()
    common.open_database()
    common.prepare_tenant(args.tenant, args.path)

    command = ["semrec_train", "--tenant", args.tenant, "-v", "0"]
    print(f"running {args.repeat} times: manage.py {' '.join(command)}", flush=True)
    train_seconds, wall_seconds = [], []
    for _ in range(args.repeat):
        wall, output = common.manage(*command, timeout=600)
        line = common.parse_rate(r"Trained (\S+) in ([\d.]+)s", output)
        print(line.group(0), f"(wall {wall:.1f}s)", flush=True)
        train_seconds.append(float(line.group(2)))
        wall_seconds.append(wall)

    common.print_results(
        {
            "runs": args.repeat,
            "train_seconds_median": statistics.median(train_seconds),
            "train_seconds_min": min(train_seconds),
            "train_seconds_max": max(train_seconds),
            "command_wall_seconds_median": statistics.median(wall_seconds),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
