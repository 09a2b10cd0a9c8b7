"""Top-K metrics: accuracy of the ranked lists, and catalogue coverage, diversity and novelty.

Accuracy metrics take a hit matrix: row ``u``, column ``r`` is True when the
item at rank ``r + 1`` of user ``u``'s list is relevant. Rows of users with
no relevant item are left out of every mean, because such a user cannot be
served well or badly. Binary relevance throughout:

- precision@K = hits / K, and recall@K = hits / number of relevant items;
- nDCG@K = sum of 1 / log2(rank + 1) over hits, divided by the same sum over
  the first min(relevant, K) ranks;
- MAP@K: the mean of average precision, the sum of precision@rank over the
  ranks of hits divided by min(relevant, K). ``map_all_relevant`` divides by
  the number of relevant items instead, as Microsoft Recommenders' ``map``
  does, so figures can be compared with that benchmark;
- MRR@K = 1 / rank of the first hit (0 without a hit), and hit rate@K = 1
  when the list has any hit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ACCURACY_METRICS = ("precision", "recall", "ndcg", "map", "map_all_relevant", "mrr", "hit_rate")


def hit_matrix(ranked: Sequence[Sequence[int]], relevant: Sequence[set[int]], k: int) -> np.ndarray:
    """Return the hit matrix of ranked item lists against each user's relevant items."""
    hits = np.zeros((len(ranked), k), dtype=bool)
    for row, (items, wanted) in enumerate(zip(ranked, relevant, strict=True)):
        for rank, item_id in enumerate(list(items)[:k]):
            hits[row, rank] = item_id in wanted
    return hits


def accuracy(hits: np.ndarray, relevant_counts: np.ndarray) -> dict[str, float]:
    """Return the mean of each accuracy metric over users with at least one relevant item.

    ``hits`` has shape ``(users, K)``; ``relevant_counts`` is each user's
    number of relevant items. Returns zeros when no user has one.
    """
    relevant_counts = np.asarray(relevant_counts)
    keep = relevant_counts > 0
    hits, counts = hits[keep].astype(np.float64), relevant_counts[keep].astype(np.float64)
    if len(counts) == 0:
        return dict.fromkeys(ACCURACY_METRICS, 0.0)

    k = hits.shape[1]
    ranks = np.arange(1, k + 1)
    discounts = 1.0 / np.log2(ranks + 1)
    ideal = np.cumsum(discounts)[np.minimum(counts, k).astype(np.int64) - 1]
    precision_at_rank = np.cumsum(hits, axis=1) / ranks
    first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)
    return {
        "precision": float((hits.sum(axis=1) / k).mean()),
        "recall": float((hits.sum(axis=1) / counts).mean()),
        "ndcg": float(((hits @ discounts) / ideal).mean()),
        "map": float(((precision_at_rank * hits).sum(axis=1) / np.minimum(counts, k)).mean()),
        "map_all_relevant": float(((precision_at_rank * hits).sum(axis=1) / counts).mean()),
        "mrr": float((1.0 / first_hit).mean()),
        "hit_rate": float(hits.any(axis=1).mean()),
    }


def coverage(lists: np.ndarray, catalogue_size: int) -> float:
    """Return the share of the catalogue that appears in at least one list.

    ``lists`` contains item positions, one row per user, padded with -1.
    """
    if catalogue_size == 0:
        return 0.0
    recommended = np.unique(lists[lists >= 0])
    return len(recommended) / catalogue_size


def intra_list_diversity(lists: np.ndarray, vectors: np.ndarray, has_vector: np.ndarray) -> float | None:
    """Return the mean over lists of the mean pairwise cosine distance (1 - cos) of their items.

    Items without a vector are left out; lists with fewer than two items that
    have one are skipped. Returns None when no list can be measured.
    """
    values = []
    for row in lists:
        positions = row[row >= 0]
        positions = positions[has_vector[positions]]
        if len(positions) < 2:
            continue
        stacked = vectors[positions].astype(np.float64)
        similarity = stacked @ stacked.T
        pairs = len(positions) * (len(positions) - 1)
        values.append(1.0 - (similarity.sum() - np.trace(similarity)) / pairs)
    return float(np.mean(values)) if values else None


def novelty(lists: np.ndarray, users_per_item: np.ndarray, user_count: int) -> float | None:
    """Return the mean self-information, -log2 p(i), of the recommended items, averaged per list.

    ``p(i)`` is the share of training users who interacted with item ``i``.
    Items no training user touched count as touched by one, so their
    self-information is finite: log2 of the number of training users.
    """
    if user_count == 0:
        return None
    information = -np.log2(np.maximum(users_per_item, 1) / user_count)
    values = [information[row[row >= 0]].mean() for row in lists if (row >= 0).any()]
    return float(np.mean(values)) if values else None
