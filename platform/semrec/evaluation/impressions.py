"""Impression metrics of the MIND benchmark: AUC, MRR, nDCG@5 and nDCG@10 within each impression.

An impression is the list of news shown to one user at one time, each
clicked or not. Each metric is computed within one impression and averaged
over impressions, as in MIND's official evaluation. Impressions without a
click, or where every candidate was clicked, have no ranking to judge and
are skipped (and counted).

A candidate without a score (``nan``, e.g. a news without text for a content
encoder) ranks below every scored candidate, tied with the other unscored
ones. Ties are broken by a seeded random order, never by the order in which
the candidates were shown, because that order can carry the position bias
of the original ranking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

NDCG_CUTOFFS = (5, 10)


@dataclass(frozen=True)
class ImpressionMetrics:
    """Metrics averaged over the impressions that have a ranking to judge."""

    auc: float
    mrr: float
    ndcg_at_5: float
    ndcg_at_10: float
    #: Impressions that were scored.
    impressions: int
    #: Impressions skipped because all or none of their candidates were clicked.
    skipped: int

    def as_dict(self) -> dict[str, float]:
        return {
            "auc": round(self.auc, 4),
            "mrr": round(self.mrr, 4),
            "ndcg@5": round(self.ndcg_at_5, 4),
            "ndcg@10": round(self.ndcg_at_10, 4),
            "impressions": self.impressions,
            "skipped": self.skipped,
        }


def impression_auc(clicked: np.ndarray, scores: np.ndarray) -> float:
    """Return the probability that a clicked candidate outscores a non-clicked one (ties count half)."""
    clicked = np.asarray(clicked, dtype=bool)
    positives, negatives = int(clicked.sum()), int((~clicked).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs at least one clicked and one non-clicked candidate.")
    # The Mann-Whitney U statistic: average ranks give ties half a win each.
    ranks = rankdata(_comparable(scores), method="average")
    return float((ranks[clicked].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def ranking_order(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return candidate positions best first, ties in a random order drawn from ``rng``."""
    shuffled = rng.permutation(len(scores))
    by_score = np.argsort(-_comparable(scores)[shuffled], kind="stable")
    return shuffled[by_score]


def mrr(clicked: np.ndarray, order: np.ndarray) -> float:
    """Return the mean reciprocal rank of the clicked candidates in ``order``."""
    ranked = np.asarray(clicked, dtype=float)[order]
    return float(np.sum(ranked / np.arange(1, len(ranked) + 1)) / np.sum(ranked))


def ndcg(clicked: np.ndarray, order: np.ndarray, k: int) -> float:
    """Return nDCG@k with binary gains (a click is worth 1)."""
    ranked = np.asarray(clicked, dtype=float)[order][:k]
    ideal = np.sort(np.asarray(clicked, dtype=float))[::-1][:k]
    discounts = 1.0 / np.log2(np.arange(2, len(ranked) + 2))
    best = float(np.sum(ideal * discounts[: len(ideal)]))
    return float(np.sum(ranked * discounts)) / best


def evaluate(impressions: Iterable[tuple[Sequence[bool], Sequence[float]]], seed: int = 0) -> ImpressionMetrics:
    """Average the metrics over ``(clicked, scores)`` pairs, one pair per impression."""
    rng = np.random.default_rng(seed)
    totals = np.zeros(4)
    scored = skipped = 0
    for clicked, scores in impressions:
        clicked = np.asarray(clicked, dtype=bool)
        scores = np.asarray(scores, dtype=np.float64)
        if len(clicked) != len(scores):
            raise ValueError(f"An impression has {len(clicked)} labels but {len(scores)} scores.")
        if clicked.all() or not clicked.any():
            skipped += 1
            continue

        order = ranking_order(scores, rng)
        totals += (impression_auc(clicked, scores), mrr(clicked, order), ndcg(clicked, order, 5), ndcg(clicked, order, 10))
        scored += 1

    means = totals / scored if scored else np.full(4, np.nan)
    return ImpressionMetrics(*(float(value) for value in means), impressions=scored, skipped=skipped)


def _comparable(scores: np.ndarray) -> np.ndarray:
    """Return the scores with a missing score (nan) below every real one."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.where(np.isnan(scores), -np.inf, scores)
