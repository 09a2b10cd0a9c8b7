"""Offline quality on MovieLens 100K under the Microsoft Recommenders protocol.

Protocol: every rating counts as a positive interaction. The user-item pairs
are split 75/25 at random, stratified by item (``random_by_item``) and, as a
second variant, by user (``random_by_user``), with seed 42. Each test user
gets a top-10 list over every item they did not rate in training. Metrics
are nDCG@10, Precision@10, Recall@10 and MAP (Microsoft Recommenders' ``map``,
which divides by all of a user's relevant items, next to the usual MAP@10).

For each split variant, every scorer is tuned on a validation split carved
from that variant's training part (``manage.py evaluate --validation``). It
uses the same protocol with seed 43: 75 % of the training pairs train and
25 % are held out, and the test part is not read. The best configuration of
each scorer by validation nDCG@10 is saved as a strategy, and all of them
are then evaluated once on the test part with ``manage.py evaluate``, whose
results are also stored in the admin's leaderboard. The strategy
``<split>-hybrid-cf-only`` is the tuned hybrid with its semantic parts
removed (no text in EASE, no content scorer, no intent steering), so the
test run shows what those parts add.

Every strategy uses the options ``rating_floor 0`` and ``half_life_days``
empty, so all ratings count and none is aged, and ``intent_boost 0`` unless
the tuning picked intent steering.

Usage: .venv/bin/python benchmarks/eval_ml100k.py [--path ../shared/datasets/ml-100k] [--splits random_by_item random_by_user]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import common

DEFAULT_PATH = common.ROOT.parent / "shared" / "datasets" / "ml-100k"
SPLITS = ("random_by_item", "random_by_user")
SHORT_NAMES = {"random_by_item": "by-item", "random_by_user": "by-user"}
OPTIONS = {"rating_floor": 0, "half_life_days": None, "intent_boost": 0}

#: The "Algorithm Comparison" table of the Microsoft Recommenders README (release 1.1.1, April
#: 2023): MovieLens 100K, 75/25 stratified split, K = 10, MAP as its ``map`` computes it.
PUBLISHED = {
    "BiVAE": {"ndcg": 0.475077, "precision": 0.411771, "recall": 0.219145, "map_all_relevant": 0.146126},
    "BPR": {"ndcg": 0.441997, "precision": 0.388229, "recall": 0.212522, "map_all_relevant": 0.132478},
    "LightGCN": {"ndcg": 0.419846, "precision": 0.379626, "recall": 0.144336, "map_all_relevant": 0.088526},
    "SAR": {"ndcg": 0.382461, "precision": 0.330753, "recall": 0.176385, "map_all_relevant": 0.110591},
}

GRIDS = {
    "ease": [{"regularization": value} for value in (100, 200, 400, 800, 1600)],
    "item_knn": [
        {"neighbours": neighbours, "shrinkage": shrinkage}
        for neighbours, shrinkage in itertools.product((50, 100, 200, 400), (0, 10, 50))
    ],
    "collaborative": [
        {"factors": factors, "regularization": regularization, "alpha": alpha, "iterations": 15}
        for factors, regularization, alpha in itertools.product((16, 32, 64), (5.0, 20.0, 50.0), (5.0, 20.0))
    ],
    "popularity": [{}],
    "content": [{}],
}
TEXT_GRID = list(itertools.product((10, 30, 60, 100), (1, 2, 3)))
#: Weights of item-kNN, ALS, content and popularity next to text-aware EASE (weight 1).
HYBRID_WEIGHTS = list(itertools.product((0.0, 0.3), (0.0, 0.3, 0.6), (0.0, 0.05, 0.1), (0.0, 0.1)))
INTENT_BOOSTS = (0.1, 0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", default="bench-ml100k", help="Tenant slug; imported from --path and encoded first where needed.")
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="Folder with the unpacked ml-100k files (u.data, u.item).")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS, help="Split variants to run.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not (args.path / "u.data").is_file():
        parser.error(f"{args.path} has no u.data. Pass --path with the unpacked MovieLens 100K folder.")

    common.print_header("ml-100k quality, Microsoft Recommenders protocol")
    common.setup_django()
    common.open_database()
    common.prepare_tenant(args.tenant, args.path, encode=True)

    from semrec.tenants.models import Tenant

    tenant = Tenant.objects.get(slug=args.tenant)
    report = {}
    for split in args.splits:
        started = time.perf_counter()
        tuned = tune(tenant, split)
        names = save_strategies(tenant, split, tuned)
        report[split] = {"tuned": tuned, "test": evaluate_on_test(args.tenant, split, names)}
        report[split]["seconds"] = round(time.perf_counter() - started, 1)
    print_tables(report)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": common.describe_machine(), "published": PUBLISHED, **report}, indent=2) + "\n")
        print(f"wrote {args.json}")


def tune(tenant, split: str) -> dict:
    """Pick each scorer's configuration, then the hybrid's, by nDCG@10 on the validation split."""
    from semrec.evaluation.protocol import parse_settings
    from semrec.evaluation.runner import Evaluator

    evaluator = Evaluator(tenant, parse_settings({"protocol": split, "validation": True, "ks": [10], "seed": 42}))
    print(f"\n== tuning on the validation split of {split} ({len(evaluator.users)} users)", flush=True)
    tuned = {}
    for scorer_id, grid in GRIDS.items():
        tuned[scorer_id] = best(evaluator, tenant, scorer_id, [(scorer_id, config, OPTIONS) for config in grid])

    ease = tuned["ease"]["config"]
    text_grid = [("ease", {**ease, "text_weight": weight, "text_power": power}, OPTIONS) for weight, power in TEXT_GRID]
    tuned["ease_text"] = best(evaluator, tenant, "ease_text", text_grid)
    tuned["hybrid"] = best(evaluator, tenant, "hybrid", hybrid_grid(tuned))
    tuned["hybrid_cf_only"] = without_semantics(tuned["hybrid"])
    return tuned


def without_semantics(hybrid: dict) -> dict:
    """Return the tuned hybrid without its semantic signals: no text in EASE, no content scorer, no intent.

    This ablation is not tuned; it shows what the semantic parts add to the same collaborative blend.
    """
    scorers = []
    for sub in hybrid["config"]["scorers"]:
        if sub["id"] == "content":
            continue
        if sub["id"] == "ease":
            sub = {**sub, "config": {**sub["config"], "text_weight": 0.0}}
        scorers.append(sub)
    return {"scorer": "hybrid", "config": {**hybrid["config"], "scorers": scorers}, "options": OPTIONS, "validation_ndcg": None}


def hybrid_grid(tuned: dict) -> list[tuple]:
    """Return weighted blends of text-aware EASE with item-kNN, ALS, content and popularity."""
    grid = []
    for knn, als, content, popularity in HYBRID_WEIGHTS:
        scorers = [{"id": "ease", "weight": 1.0, "config": tuned["ease_text"]["config"]}]
        scorers += [{"id": "item_knn", "weight": knn, "config": tuned["item_knn"]["config"]}] if knn else []
        scorers += [{"id": "collaborative", "weight": als, "config": tuned["collaborative"]["config"]}] if als else []
        scorers += [{"id": "content", "weight": content}] if content else []
        scorers += [{"id": "popularity", "weight": popularity}] if popularity else []
        grid.append(("hybrid", {"method": "weighted", "scorers": scorers}, OPTIONS))
    return grid


def best(evaluator, tenant, label: str, candidates: list[tuple]) -> dict:
    """Evaluate each ``(scorer_id, config, options)`` on validation and return the best with its nDCG@10."""
    results = []
    for scorer_id, config, options in candidates:
        strategy = unsaved_strategy(tenant, f"tuning-{label}", scorer_id, config, options)
        ndcg = evaluator.evaluate(strategy).metrics[10]["ndcg"]
        results.append({"scorer": scorer_id, "config": config, "options": options, "validation_ndcg": round(ndcg, 4)})
        print(f"  {label:<14} validation nDCG@10 {ndcg:.4f}  {json.dumps(config)}", flush=True)
    winner = max(results, key=lambda entry: entry["validation_ndcg"])
    if label == "hybrid":
        winner = intent_steering(evaluator, tenant, winner)
    print(f"  {label:<14} picked {json.dumps(winner['config'])} (validation nDCG@10 {winner['validation_ndcg']:.4f})", flush=True)
    return winner


def intent_steering(evaluator, tenant, winner: dict) -> dict:
    """Try the best hybrid with the softmax intent model steering the lists by genre."""
    best_entry = winner
    for boost in INTENT_BOOSTS:
        options = {**OPTIONS, "intent_boost": boost}
        strategy = unsaved_strategy(tenant, "tuning-intent", "hybrid", winner["config"], options, intent_model_id="softmax")
        ndcg = evaluator.evaluate(strategy).metrics[10]["ndcg"]
        print(f"  {'hybrid+intent':<14} validation nDCG@10 {ndcg:.4f}  intent_boost {boost}", flush=True)
        if ndcg > best_entry["validation_ndcg"]:
            best_entry = {**winner, "options": options, "intent_model": "softmax", "validation_ndcg": round(ndcg, 4)}
    return best_entry


def unsaved_strategy(tenant, name: str, scorer_id: str, config: dict, options: dict, intent_model_id: str = ""):
    from semrec.strategies.models import Strategy

    return Strategy(
        tenant=tenant, name=name, scorer_id=scorer_id, scorer_config=config, options=options,
        intent_model_id=intent_model_id, explainer_id="",
    )


def save_strategies(tenant, split: str, tuned: dict) -> list[str]:
    """Store each tuned configuration as a strategy named ``<split>-<scorer>``."""
    from semrec.strategies.models import Strategy

    names = []
    for label, entry in tuned.items():
        name = f"{SHORT_NAMES[split]}-{label.replace('_', '-')}"
        Strategy.objects.update_or_create(
            tenant=tenant,
            name=name,
            defaults={
                "scorer_id": entry["scorer"],
                "scorer_config": entry["config"],
                "options": entry["options"],
                "intent_model_id": entry.get("intent_model", ""),
                "explainer_id": "",
            },
        )
        names.append(name)
    return names


def evaluate_on_test(tenant_slug: str, split: str, names: list[str]) -> dict:
    """Run ``manage.py evaluate`` on the test part and return each strategy's metrics at K = 10."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results.json"
        strategies = [argument for name in names for argument in ("--strategy", name)]
        command = ["evaluate", "--tenant", tenant_slug, *strategies, "--split", split, "--seed", "42", "-k", "10", "--json", str(path)]
        print(f"\n== test part: manage.py {' '.join(command[:-2])}", flush=True)
        common.manage(*command, "-v", "0", timeout=1800)
        entries = json.loads(path.read_text())
    return {entry["strategy"]: {**entry["metrics"]["10"], "fit_seconds": entry["fit_seconds"], "score_seconds": entry["score_seconds"]} for entry in entries}


def print_tables(report: dict) -> None:
    for split, results in report.items():
        print(f"\n== {split}, test part, K = 10 ({results['seconds']:.0f} s with tuning)")
        print(f"{'strategy':<22} {'nDCG':>7} {'P@10':>7} {'R@10':>7} {'MAP':>7} {'MAP@10':>7} {'fit s':>6} {'rank s':>6}")
        for name, metrics in sorted(results["test"].items(), key=lambda pair: -pair[1]["ndcg"]):
            print(
                f"{name:<22} {metrics['ndcg']:>7.4f} {metrics['precision']:>7.4f} {metrics['recall']:>7.4f} "
                f"{metrics['map_all_relevant']:>7.4f} {metrics['map']:>7.4f} {metrics['fit_seconds']:>6.1f} {metrics['score_seconds']:>6.1f}"
            )
    print("\npublished (Microsoft Recommenders README, release 1.1.1):")
    for name, metrics in PUBLISHED.items():
        print(f"{name:<22} {metrics['ndcg']:>7.4f} {metrics['precision']:>7.4f} {metrics['recall']:>7.4f} {metrics['map_all_relevant']:>7.4f}")


if __name__ == "__main__":
    main()
