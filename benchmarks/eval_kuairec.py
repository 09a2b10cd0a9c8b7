"""Measure category-intent accuracy from the Chinese captions of KuaiRec's short videos.

KuaiRec's caption file has no interactions, so each captioned video with a
known first-level category is one intent example whose query is the video's
text (caption and cover text, never the categories) and whose user vector is
zero. The target is the video's first-level category (38 of them in the published file).
The videos are shuffled with ``--seed``; the first 80% train and the rest
test. Category centroids are the normalised mean vectors of the training
videos only.

Each encoder in ``--encoders`` encodes the texts, declared as ``zh-Hans``.
An encoder that fits on texts is first fitted on all the texts, as
``semrec_encode`` fits it on all item texts of a tenant. That fit uses no
categories. The intent models are then compared with eval_intent.py's
``compare_intent_models``: ``softmax`` trained on the training part,
``passthrough`` (the category whose centroid is nearest to the query
vector) and the most frequent training categories.

Encoders: ``lexical`` (defaults: jieba words and character n-grams,
256-dimensional SVD), ``transformers`` (all-MiniLM-L6-v2, which reads
little Chinese) and ``by_language`` (defaults: lexical for ``zh``,
all-MiniLM-L6-v2 for other languages). Every caption is Chinese, so
``by_language`` routes all of them to its lexical block and should match
``lexical``; it is there to check that routing.

Usage: .venv/bin/python benchmarks/eval_kuairec.py [--path ../shared/datasets/kuairec-captions]
       [--encoders lexical,by_language,transformers] [--limit N] [--json out.json]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

import common

DEFAULT_PATH = common.ROOT.parent / "shared" / "datasets" / "kuairec-captions"
ENCODERS = ("lexical", "by_language", "transformers")
LANGUAGE = "zh-Hans"
TRAIN_SHARE = 0.8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="Folder with kuairec_caption_category.csv.")
    parser.add_argument(
        "--encoders", default=",".join(ENCODERS), help=f"Comma-separated encoders to compare, from: {', '.join(ENCODERS)}."
    )
    parser.add_argument("--limit", type=int, default=0, help="Use at most this many videos after shuffling (0: all).")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the shuffle that splits training and test videos.")
    parser.add_argument("--with-topic-tags", action="store_true", help="Add the videos' topic tags to their text.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    encoders = [name.strip() for name in args.encoders.split(",") if name.strip()]
    unknown = sorted(set(encoders) - set(ENCODERS))
    if unknown or not encoders:
        parser.error(f"--encoders got {args.encoders!r}; choose from {', '.join(ENCODERS)}.")
    if args.limit < 0:
        parser.error("--limit must be 0 (all videos) or more.")

    common.print_header("KuaiRec caption category intent")
    common.setup_django()
    import eval_intent
    from semrec.catalog.importers.kuairec import KuaiRecFormatError

    try:
        texts, categories = load_examples(args.path, args.with_topic_tags, random.Random(args.seed), args.limit)
    except KuaiRecFormatError as err:
        parser.error(str(err))
    labels = sorted(set(categories))
    targets = np.zeros((len(texts), len(labels)), dtype=np.float32)
    targets[np.arange(len(texts)), [labels.index(category) for category in categories]] = 1.0
    print(f"{len(texts)} videos with a caption or cover text and a category; {len(labels)} categories", flush=True)

    results = {"videos": len(texts), "categories": len(labels), "topic_tags_in_text": args.with_topic_tags}
    for name in encoders:
        vectors, timings = encode(name, texts)
        examples = intent_examples(vectors, targets, labels)
        started = time.perf_counter()
        scores = eval_intent.compare_intent_models(examples, {}, prefix=f"kuairec_{name}")
        timings["intent_seconds"] = round(time.perf_counter() - started, 2)
        # Printed per encoder as well, so a run stopped during a slow encoder keeps the earlier figures.
        print(f"{name}: {scores}", flush=True)
        results.update({f"kuairec_{name}_{key}": value for key, value in timings.items()})
        results.update(scores)
    common.print_results(results, args.json)


def load_examples(folder: Path, with_topic_tags: bool, rng: random.Random, limit: int) -> tuple[list[str], list[str]]:
    """Return the shuffled texts and first-level categories of the videos that have both."""
    from semrec.catalog.importers.kuairec import read_videos, video_text

    pairs = [(video_text(video, with_topic_tags), video.category) for video in read_videos(folder)]
    pairs = [(text, category) for text, category in pairs if text and category]
    rng.shuffle(pairs)
    if limit:
        pairs = pairs[:limit]
    return [text for text, _ in pairs], [category for _, category in pairs]


def encode(name: str, texts: list[str]) -> tuple[np.ndarray, dict]:
    """Fit the encoder on the texts when it fits on texts, encode them, and return the vectors and timings."""
    from semrec.plugins import get_registry

    encoder = get_registry().create("encoder", name)
    languages = [LANGUAGE] * len(texts)
    timings = {"dimension": encoder.dimension}
    if encoder.fits_on_texts:
        started = time.perf_counter()
        encoder.fit_texts(texts, languages)
        timings["fit_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    vectors = encoder.encode(texts, languages=languages)
    timings["encode_seconds"] = round(time.perf_counter() - started, 2)
    print(f"{name}: {timings}", flush=True)
    return vectors, timings


def intent_examples(vectors: np.ndarray, targets: np.ndarray, labels: list[str]):
    """Build examples whose query is the video's vector, with centroids from the training part only."""
    from semrec.plugins import IntentExamples

    train = int(len(vectors) * TRAIN_SHARE)
    sums = targets[:train].T @ vectors[:train]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    centroids = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return IntentExamples(
        user_vectors=np.zeros_like(vectors),
        query_vectors=vectors,
        targets=targets,
        labels=labels,
        centroids=centroids.astype(np.float32),
        timestamps=np.arange(len(vectors), dtype=np.float64),
        item_vectors=vectors,
    )


if __name__ == "__main__":
    main()
