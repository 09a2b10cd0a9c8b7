"""Check that the transformers encoder plugin works on CUDA and agrees with the CPU.

1. Fails with exit status 2 and a message when CUDA is not available, unless
   ``--device cpu`` requests a dry run, in which both passes run on the CPU.
2. Encodes ``--texts`` texts with the ``transformers`` encoder plugin on CUDA
   in float16 (``half_precision``), then the same texts on the CPU in float32.
   Each pass encodes one warm-up batch first, untimed, after loading the model.
3. Compares the two sets of vectors text by text: every cosine similarity must
   be at least ``--min-cosine`` (0.99), else the exit status is 1.
4. Reports items per second of both passes, their ratio, and the batch size
   the CUDA pass ended with. With ``--memory-fraction`` the process may use
   only that share of the GPU's memory, so a large ``--batch-size`` runs out of
   memory and the encoder's halving of its batch size shows in that figure.

Texts are item texts (title and genres) from ml-latest-small's movies.csv
when ``--path`` has it, otherwise generated sentences of varied length.

Usage: .venv/bin/python benchmarks/gpu_check.py [--texts 2000] [--batch-size 64] [--device cuda|cpu] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

import common

EXIT_NO_CUDA = 2
EXIT_MISMATCH = 1

WORDS = (
    "space rocket crew planet orbit station galaxy alien moon launch chef pasta bread curry sushi soup dessert "
    "kitchen jazz piano trumpet swing drums album night city detective mystery love war history documentary "
    "comedy drama family adventure journey island ocean mountain winter summer music dance school friends"
).split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2000, help="Number of texts to encode on each device (1 to 100,000).")
    parser.add_argument("--batch-size", type=int, default=64, help="Starting batch size of the encoder (texts per forward pass).")
    parser.add_argument("--model", default="", help="Hugging Face model name or folder; empty: all-MiniLM-L6-v2 from its package.")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="'cpu' runs both passes on the CPU, as a dry run.")
    parser.add_argument("--min-cosine", type=float, default=0.99, help="Lowest cosine similarity accepted between the two vectors of a text.")
    parser.add_argument(
        "--memory-fraction", type=float, help="Share of the GPU's memory (0 to 1) this process may use, to provoke out-of-memory errors."
    )
    parser.add_argument("--path", type=Path, default=common.DEFAULT_DATASET, help="Folder with ml-latest-small's movies.csv.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the text sample.")
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if not 1 <= args.texts <= 100_000:
        parser.error("--texts must be between 1 and 100,000.")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1.")
    if args.memory_fraction is not None and not 0 < args.memory_fraction <= 1:
        parser.error("--memory-fraction must be greater than 0 and at most 1.")

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(no_cuda_message(torch), file=sys.stderr)
        return EXIT_NO_CUDA

    common.print_header("GPU check" if args.device == "cuda" else "GPU check, dry run on the CPU")
    common.setup_django()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.device == "cuda":
        print(f"CUDA device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
        if args.memory_fraction is not None:
            torch.cuda.set_per_process_memory_fraction(args.memory_fraction, 0)

    texts, source = load_texts(args.path, args.texts, args.seed)
    print(f"{len(texts):,} texts from {source}", flush=True)

    accelerated, accelerated_rate, final_batch_size = encode_pass(args, texts, device=args.device, half=args.device == "cuda")
    reference, reference_rate, _batch = encode_pass(args, texts, device="cpu", half=False)

    pass_label = "cuda_float16" if args.device == "cuda" else "dry_run_cpu_float32"
    cosines = np.sum(accelerated * reference, axis=1) / (
        np.linalg.norm(accelerated, axis=1) * np.linalg.norm(reference, axis=1)
    )
    results = {
        "device": args.device,
        "texts": len(texts),
        "text_source": source,
        "starting_batch_size": args.batch_size,
        "final_batch_size": final_batch_size,
        f"{pass_label}_items_per_second": accelerated_rate,
        "cpu_float32_items_per_second": reference_rate,
        "speedup_over_cpu": accelerated_rate / reference_rate,
        "min_cosine": float(cosines.min()),
        "mean_cosine": float(cosines.mean()),
        "min_cosine_required": args.min_cosine,
        "vectors_agree": bool(cosines.min() >= args.min_cosine),
    }
    if args.device == "cuda":
        results["cuda_max_memory_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    common.print_results(results, args.json)
    if not results["vectors_agree"]:
        worst = int(cosines.argmin())
        print(
            f"FAILED: the vectors of {int((cosines < args.min_cosine).sum())} texts differ between the passes; the lowest "
            f"cosine is {cosines[worst]:.4f} for text {worst} ({texts[worst][:80]!r}).",
            file=sys.stderr,
        )
        return EXIT_MISMATCH
    print("OK: the vectors agree.")
    return 0


def no_cuda_message(torch) -> str:
    build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
    return (
        f"CUDA is not available: torch {torch.__version__} is {build}, and torch.cuda.is_available() returned False. "
        "Run this on a machine with an NVIDIA GPU and its driver, with a CUDA build of torch, "
        "or pass --device cpu for a dry run on the CPU."
    )


def load_texts(path: Path, count: int, seed: int) -> tuple[list[str], str]:
    """Return ``count`` texts and where they came from: movie titles and genres, or generated sentences."""
    movies = path / "movies.csv"
    if movies.is_file():
        with open(movies, newline="", encoding="utf-8") as handle:
            rows = [f"{row['title']}. {row['genres'].replace('|', ', ')}" for row in csv.DictReader(handle)]
        picked = random.Random(seed).sample(rows, min(count, len(rows)))
        if len(picked) == count:
            return picked, str(movies)
    generator = random.Random(seed)
    texts = [" ".join(generator.choices(WORDS, k=generator.randint(3, 120))) for _index in range(count)]
    return texts, "generated sentences of 3 to 120 words"


def encode_pass(args, texts: list[str], *, device: str, half: bool) -> tuple[np.ndarray, float, int]:
    """Encode ``texts`` with the plugin on ``device`` and return the vectors, items per second and the final batch size."""
    import torch
    from semrec_transformers import TransformersEncoder

    encoder = TransformersEncoder(
        {"model": args.model, "device": device, "half_precision": half, "batch_size": args.batch_size}
    )
    label = f"{device} {'float16' if half and device == 'cuda' else 'float32'}"
    encoder.encode(texts[: args.batch_size])
    synchronize(device, torch)
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    synchronize(device, torch)
    seconds = time.perf_counter() - started
    print(f"{label}: {len(texts):,} texts in {seconds:.2f}s ({len(texts) / seconds:,.0f} items/s), batch size {encoder.batch_size}", flush=True)
    return vectors, len(texts) / seconds, encoder.batch_size


def synchronize(device: str, torch) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


if __name__ == "__main__":
    sys.exit(main())
