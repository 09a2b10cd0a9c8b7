"""Evaluate intent recognition and query-aware recommendations on ml-latest-small.

Two measurements, both on a tenant built from the real files:

1. Intent accuracy. Intent examples (user vector before an engagement, the
   engaged movie's genres as the target) are built from the tenant's events
   and split by time: the oldest 80% train, the newest 20% test. Top-1 and
   top-3 accuracy are reported, where a hit is a predicted genre that is one
   of the movie's genres. The models are ``softmax``, ``passthrough`` (genres
   ranked by the cosine between its intent vector and each genre's
   centroid) and always predicting the most frequent training genres.

2. Tag-as-query NDCG@10. For each user who tagged movies they rated 3 or
   more, up to ``--per-user`` of their latest such movies are held out: the
   ratings are removed before training, and the tag text is removed from
   those movies' item text. Each held-out movie is then the single target of
   a request for that user, once without a query and once with ``q`` set to
   the user's own tag for it. Lists exclude the user's remaining history.

3. With ``--mind``, intent accuracy on MIND news clicks with Chinese text
   (``mind-zh``). Categories come from ``news_en_partial.tsv``, which has
   them for 2,000 news only, so targets are restricted to clicks on those.
   Each user's click history (in its listed order, which is chronological)
   gives the events; users are split by the time of their first impression.
   Items are encoded with ``--mind-encoder``.

Usage: .venv/bin/python benchmarks/eval_intent.py [--path ../shared/datasets/ml-latest-small]
       [--mind ../shared/datasets/mind-zh [--mind-encoder lexical]] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

import common

TENANT = "intent-eval"
MIN_TARGET_RATING = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with the unpacked ml-latest-small files.")
    parser.add_argument("--per-user", type=int, default=5, help="Held-out tagged movies per user (1 to 50).")
    parser.add_argument("--seed", type=int, default=7, help="Seed for the choice of one tag when a user gave several.")
    parser.add_argument("--mind", type=Path, help="Folder with mind-zh's behaviors.tsv, news_zh.tsv and news_en_partial.tsv.")
    parser.add_argument("--mind-encoder", default="lexical", choices=["lexical", "transformers"], help="Encoder for the MIND news texts.")
    parser.add_argument("--skip-movielens", action="store_true", help="Only run the MIND part.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if args.mind is not None and not (args.mind / "behaviors.tsv").exists():
        parser.error(f"{args.mind} has no behaviors.tsv. Pass --mind with the mind-zh folder.")
    if not 1 <= args.per_user <= 50:
        parser.error("--per-user must be between 1 and 50.")
    if not (args.path / "tags.csv").exists():
        parser.error(f"{args.path} has no tags.csv. Pass --path with the unpacked ml-latest-small files.")

    common.print_header("intent and query-aware recommendations")
    common.setup_django()
    common.open_database()

    results = {}
    if not args.skip_movielens:
        cases = held_out_cases(args.path, args.per_user, random.Random(args.seed))
        strategy = build_tenant(args.path, cases)
        results["held_out_cases"] = len(cases)
        results.update(intent_accuracy(strategy))
        results.update(query_ndcg(strategy, cases))
    if args.mind is not None:
        results.update(mind_intent_accuracy(args.mind, args.mind_encoder))
    common.print_results(results, args.json)


def held_out_cases(folder: Path, per_user: int, rng: random.Random) -> list[dict]:
    """Return ``{user, movie, tag, timestamp}`` for each user's latest tagged and well-rated movies."""
    ratings = {}
    with open(folder / "ratings.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ratings[(row["userId"], row["movieId"])] = (float(row["rating"]), int(row["timestamp"]))
    tags = defaultdict(list)
    with open(folder / "tags.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["userId"], row["movieId"])
            if key in ratings and ratings[key][0] >= MIN_TARGET_RATING and row["tag"].strip():
                tags[key].append(row["tag"].strip())

    by_user = defaultdict(list)
    for (user, movie), texts in tags.items():
        by_user[user].append({"user": user, "movie": movie, "tag": rng.choice(sorted(texts)), "timestamp": ratings[(user, movie)][1]})
    cases = []
    for user_cases in by_user.values():
        cases += sorted(user_cases, key=lambda case: -case["timestamp"])[:per_user]
    return cases


def build_tenant(folder: Path, cases: list[dict]):
    """Import the dataset, remove the held-out ratings and tags, encode and train the default strategy."""
    from semrec.catalog.importers.movielens import import_movielens
    from semrec.catalog.models import Event, Item
    from semrec.recommend.service import resolve_strategy
    from semrec.tenants.models import Tenant
    from semrec.training.models import TrainingRun
    from semrec.training.runs import run_now

    Tenant.objects.filter(slug=TENANT).delete()
    tenant = Tenant.objects.create(slug=TENANT, name="Intent evaluation")
    import_movielens(tenant, folder, show_progress=False)

    for case in cases:
        Event.objects.filter(tenant=tenant, user__external_id=case["user"], item__external_id=case["movie"]).delete()
    removed_tags = defaultdict(set)
    for case in cases:
        removed_tags[case["movie"]].add(case["tag"].lower())
    for item in Item.objects.filter(tenant=tenant, external_id__in=list(removed_tags)):
        item.tags = [tag for tag in item.tags if tag.lower() not in removed_tags[item.external_id]]
        item.save()
    print(f"held out {len(cases)} ratings of {len({c['user'] for c in cases})} users; encoding and training", flush=True)

    strategy = resolve_strategy(tenant, None)
    run_now(strategy, TrainingRun.Kind.ENCODE)
    run = run_now(strategy, TrainingRun.Kind.TRAIN)
    for entry in run.result["trained"]:
        print(f"trained {entry['role']} in {entry['train_seconds']}s", flush=True)
    return strategy


def intent_accuracy(strategy) -> dict:
    from semrec.strategies.plugins import build_plugins
    from semrec.training.intent_examples import load_intent_examples
    from semrec.training.jobs import load_active_fit
    from semrec.vectors.spaces import find_space

    plugins = build_plugins(strategy)
    load_active_fit(strategy, plugins.encoder)
    examples = load_intent_examples(strategy, find_space(strategy.tenant, plugins.encoder), plugins.encoder)
    return compare_intent_models(examples, strategy.intent_model_config, prefix="intent")


def compare_intent_models(examples, softmax_config: dict, prefix: str) -> dict:
    """Train softmax on the oldest 80% of the examples; score it and both baselines on the rest.

    ``softmax_unweighted`` is the same model with ``class_weighting`` set to
    ``none``, which trades rare intents for top-1 accuracy.
    """
    from semrec.plugins import get_registry

    cut = int(len(examples) * 0.8)
    train, test = _slice(examples, 0, cut), _slice(examples, cut, len(examples))

    scores = {}
    for name, config in (("softmax", softmax_config), ("softmax_unweighted", {**softmax_config, "class_weighting": "none"})):
        softmax = get_registry().create("intent_model", "softmax", config)
        softmax.fit(train)
        distributions = softmax.predict(test.user_vectors, test.query_vectors).distributions
        scores[name] = np.array([[p[label] for label in examples.labels] for p in distributions])

    passthrough = get_registry().create("intent_model", "passthrough")
    vectors = passthrough.predict(test.user_vectors, test.query_vectors).vectors
    by_centroid = vectors @ examples.centroids.T

    scores["passthrough"] = by_centroid
    scores["most_frequent"] = np.tile(train.targets.sum(axis=0), (len(test), 1))

    results = {f"{prefix}_examples_train": len(train), f"{prefix}_examples_test": len(test), f"{prefix}_labels": len(examples.labels)}
    for name, matrix in scores.items():
        for k in (1, 3):
            results[f"{prefix}_top{k}_{name}"] = round(_top_k(matrix, test.targets, k), 4)
    return results


def mind_intent_accuracy(folder: Path, encoder_id: str) -> dict:
    """Build intent examples from MIND click histories and compare the intent models on them."""
    from semrec.plugins import get_registry
    from semrec.strategies.options import StrategyOptions
    from semrec.training.intent_examples import EventRow, build_intent_examples

    categories = _mind_categories(folder / "news_en_partial.tsv")
    texts = _mind_texts(folder / "news_zh.tsv")
    histories = _mind_histories(folder / "behaviors.tsv")
    histories = {user: (start, clicks) for user, (start, clicks) in histories.items() if any(nid in categories for nid in clicks)}
    needed = sorted({nid for _start, clicks in histories.values() for nid in clicks if nid in texts})
    ids = {nid: index for index, nid in enumerate(needed)}
    print(f"MIND: {len(histories)} users with a categorised click, {len(needed)} news to encode with {encoder_id}", flush=True)

    encoder = get_registry().create("encoder", encoder_id)
    corpus = [texts[nid] for nid in needed]
    if encoder.trainable:
        encoder.fit_texts(corpus)
    vectors = encoder.encode(corpus)

    rows = []
    for user_index, (start, clicks) in enumerate(sorted(histories.values())):
        known = [nid for nid in clicks if nid in ids]
        for position, nid in enumerate(known):
            rows.append(EventRow(user_index, ids[nid], "click", None, start - len(known) + position, ""))
    examples = build_intent_examples(
        rows,
        item_vectors={index: vectors[index] for index in range(len(needed))},
        item_categories={ids[nid]: [category] for nid, category in categories.items() if nid in ids},
        encode_queries=encoder.encode_queries,
        options=StrategyOptions(half_life_days=None),
        dimension=encoder.dimension,
    )
    results = compare_intent_models(examples, {}, prefix=f"mind_{encoder_id}")
    results["mind_news_encoded"] = len(needed)
    return results


def _mind_categories(path: Path) -> dict[str, str]:
    categories = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) > 1 and fields[1]:
                categories[fields[0]] = fields[1]
    return categories


def _mind_texts(path: Path) -> dict[str, str]:
    texts = {}
    with open(path, encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            nid, title, abstract = (line.rstrip("\n").split("\t") + ["", ""])[:3]
            if title or abstract:
                texts[nid] = f"{title}. {abstract}" if abstract else title
    return texts


def _mind_histories(path: Path) -> dict[str, tuple[float, list[str]]]:
    """Return each user's first impression time (Unix seconds) and click history."""
    from datetime import datetime

    histories = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            _impression, user, time, history, _candidates = line.rstrip("\n").split("\t")
            start = datetime.strptime(time, "%m/%d/%Y %I:%M:%S %p").timestamp()
            if user not in histories or start < histories[user][0]:
                histories[user] = (start, history.split())
    return histories


def _slice(examples, start: int, stop: int):
    from semrec.plugins import IntentExamples

    return IntentExamples(
        user_vectors=examples.user_vectors[start:stop],
        query_vectors=examples.query_vectors[start:stop],
        targets=examples.targets[start:stop],
        labels=examples.labels,
        centroids=examples.centroids,
        timestamps=examples.timestamps[start:stop],
        item_vectors=examples.item_vectors[start:stop],
    )


def _top_k(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((np.take_along_axis(targets, ranked, axis=1).max(axis=1) > 0).mean())


def query_ndcg(strategy, cases: list[dict]) -> dict:
    from semrec.catalog.models import User
    from semrec.recommend.service import recommend_for_user, search_items

    users = {user.external_id: user for user in User.objects.filter(tenant=strategy.tenant)}
    gains = defaultdict(list)
    for index, case in enumerate(cases, 1):
        user = users[case["user"]]
        lists = {
            "no_query": recommend_for_user(strategy.tenant, user, n=10).items,
            "with_query": recommend_for_user(strategy.tenant, user, n=10, query=case["tag"]).items,
            "search": search_items(strategy.tenant, case["tag"], user=user, n=10, exclude_seen=True).items,
        }
        for name, items in lists.items():
            gains[name].append(_ndcg([row["id"] for row in items], case["movie"]))
        if index % 50 == 0:
            print(f"  {index}/{len(cases)} cases", flush=True)

    results = {}
    for name, values in gains.items():
        results[f"ndcg10_{name}"] = round(float(np.mean(values)), 4)
        results[f"hit10_{name}"] = round(float(np.mean([value > 0 for value in values])), 4)
    tags = Counter(case["tag"] for case in cases)
    results["distinct_queries"] = len(tags)
    return results


def _ndcg(ranked: list[str], target: str) -> float:
    """NDCG@10 with one relevant item: 1 / log2(rank + 1), 0 when it is missing."""
    if target not in ranked[:10]:
        return 0.0
    return 1.0 / math.log2(ranked.index(target) + 2)


if __name__ == "__main__":
    main()
