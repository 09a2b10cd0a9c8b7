"""Benchmark collaborative-filtering training: the scorer plugins against their libraries called directly.

Both sides get the same interaction matrix, built from ``ratings.csv`` of
``--path`` (every rating is a positive interaction with its rating as the
weight, as ``InteractionData`` carries it):

1. ALS: ``AlsScorer.fit`` (plugin ``collaborative``, default options: 64
   factors, 15 iterations) against ``implicit.als.AlternatingLeastSquares.fit``
   on the matrix with the same confidences (``1 + alpha * weight``), the same
   options and the same BLAS thread limit.
2. EASE: ``EaseScorer.fit`` (plugin ``ease``, default options: lambda 500,
   binary, the 5,000 items with most users) against a bare numpy solve on the
   same 5,000 columns: ``G = X^T X + lambda I``, ``P = inv(G)``,
   ``B = -P / diag(P)`` with a zero diagonal.

With ``--synthetic USERS,ITEMS,INTERACTIONS`` the matrix is synthetic
instead: item popularity follows a Zipf-like law (exponent 1.1), users are
drawn uniformly, weights are 1, with a fixed seed.

The plugin and the bare call alternate ``--repeat`` times, and the medians
are compared. The plugin side includes building the sparse matrix from the
interaction arrays, which the bare side is handed ready-made. No database is
used.

Usage: .venv/bin/python benchmarks/bench_cf.py [--path DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with ratings.csv of a MovieLens dataset.")
    parser.add_argument("--repeat", type=int, default=5, help="Fits of each kind (1 to 50).")
    parser.add_argument(
        "--synthetic", metavar="USERS,ITEMS,INTERACTIONS", help="Use a synthetic matrix of this shape instead of ratings.csv."
    )
    parser.add_argument("--skip-ease", action="store_true", help="Time ALS only.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be between 1 and 50.")
    shape = None
    if args.synthetic:
        try:
            shape = tuple(int(part.replace("_", "")) for part in args.synthetic.split(","))
        except ValueError:
            shape = ()
        if len(shape) != 3 or min(shape) < 1 or shape[2] > 100_000_000:
            parser.error(f"--synthetic must be USERS,ITEMS,INTERACTIONS, three positive integers (at most 100,000,000 interactions); got {args.synthetic!r}.")
    ratings = args.path / "ratings.csv"
    if shape is None and not ratings.is_file():
        parser.error(f"{ratings} does not exist. Pass --path with the folder of an unpacked MovieLens dataset.")

    common.print_header("collaborative-filtering training")
    common.add_source_roots()

    data = synthetic_interactions(*shape) if shape else read_interactions(ratings)
    print(f"{len(data):,} interactions of {len(np.unique(data.user_ids)):,} users with {len(np.unique(data.item_ids)):,} items", flush=True)
    results = {"interactions": len(data), "repeat": args.repeat, "synthetic": args.synthetic or ""}
    results.update(bench_als(data, args.repeat))
    if not args.skip_ease:
        results.update(bench_ease(data, args.repeat))
    common.print_results(results, args.json)


def read_interactions(path: Path):
    from semrec.plugins.types import InteractionData

    table = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1, 2, 3))
    return InteractionData(
        user_ids=table[:, 0].astype(np.int64),
        item_ids=table[:, 1].astype(np.int64),
        weights=table[:, 2].astype(np.float32),
        timestamps=table[:, 3].astype(np.float64),
    )


def synthetic_interactions(users: int, items: int, interactions: int):
    from semrec.plugins.types import InteractionData

    rng = np.random.default_rng(1)
    popularity = 1.0 / np.arange(1, items + 1) ** 1.1
    return InteractionData(
        user_ids=rng.integers(0, users, interactions, dtype=np.int64),
        item_ids=rng.choice(items, size=interactions, p=popularity / popularity.sum()).astype(np.int64),
        weights=np.ones(interactions, dtype=np.float32),
        timestamps=np.zeros(interactions),
    )


def bench_als(data, repeat: int) -> dict:
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from semrec_collaborative.als import AlsScorer

    config = AlsScorer().config
    matrix, _, _ = data.to_csr()
    matrix.data = 1.0 + config.alpha * matrix.data

    def plugin() -> np.ndarray:
        scorer = AlsScorer()
        scorer.fit(data)
        return scorer.item_factors

    def bare() -> np.ndarray:
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=config.factors, regularization=config.regularization, alpha=1.0,
                iterations=config.iterations, random_state=config.random_state,
            )
            model.fit(matrix, show_progress=False)
        return np.asarray(model.item_factors)

    plugin_seconds, bare_seconds, factors = alternate(plugin, bare, repeat)
    difference = float(np.abs(factors[0] - factors[1]).max())
    print(f"ALS: plugin {statistics.median(plugin_seconds):.2f}s, implicit {statistics.median(bare_seconds):.2f}s (median)", flush=True)
    return {
        "als_factors": config.factors,
        "als_iterations": config.iterations,
        "als_users": matrix.shape[0],
        "als_items": matrix.shape[1],
        "als_plugin_seconds_median": statistics.median(plugin_seconds),
        "als_implicit_seconds_median": statistics.median(bare_seconds),
        "als_plugin_over_implicit": statistics.median(plugin_seconds) / statistics.median(bare_seconds),
        "als_max_abs_factor_difference": difference,
    }


def bench_ease(data, repeat: int) -> dict:
    from semrec_ease.ease import EaseScorer, _top_columns_by_users

    config = EaseScorer().config
    matrix, _, _ = data.to_csr()
    matrix.data[:] = 1.0
    matrix = matrix[:, _top_columns_by_users(matrix, config.max_items)]

    def plugin() -> np.ndarray:
        scorer = EaseScorer()
        scorer.fit(data)
        return scorer.weights

    def bare() -> np.ndarray:
        gram = (matrix.T @ matrix).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += config.regularization
        inverse = np.linalg.inv(gram)
        weights = inverse / (-np.diag(inverse))
        np.fill_diagonal(weights, 0.0)
        return weights.astype(np.float32)

    plugin_seconds, bare_seconds, weights = alternate(plugin, bare, repeat)
    difference = float(np.abs(weights[0] - weights[1]).max())
    print(f"EASE: plugin {statistics.median(plugin_seconds):.2f}s, numpy {statistics.median(bare_seconds):.2f}s (median)", flush=True)
    return {
        "ease_items": matrix.shape[1],
        "ease_regularization": config.regularization,
        "ease_plugin_seconds_median": statistics.median(plugin_seconds),
        "ease_numpy_seconds_median": statistics.median(bare_seconds),
        "ease_plugin_over_numpy": statistics.median(plugin_seconds) / statistics.median(bare_seconds),
        "ease_max_abs_weight_difference": difference,
    }


def alternate(plugin, bare, repeat: int) -> tuple[list[float], list[float], tuple]:
    """Run ``plugin`` and ``bare`` alternately ``repeat`` times each, after one untimed call of each."""
    outputs = (plugin(), bare())
    plugin_seconds, bare_seconds = [], []
    for _ in range(repeat):
        for function, seconds in ((plugin, plugin_seconds), (bare, bare_seconds)):
            started = time.perf_counter()
            function()
            seconds.append(time.perf_counter() - started)
    return plugin_seconds, bare_seconds, outputs


if __name__ == "__main__":
    main()
