"""Hybrid scorer: blends other scorers by weighted scores or reciprocal rank fusion."""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import BaseModel, ConfigDict, Field

from semrec.plugins import PluginConfig, PluginRef, ScoredItem, Scorer, hookimpl, top_positions

logger = logging.getLogger(__name__)


class SubScorer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Id of an installed scorer.")
    weight: float = Field(1.0, ge=0, description="Weight of this scorer in the blend.")
    short_history_weight: float | None = Field(
        None, ge=0, description="Weight for users with a short history (see short_history); empty keeps weight."
    )
    query_weight: float | None = Field(
        None, ge=0, description="Weight when the request carries a query text; empty keeps weight."
    )
    config: dict[str, Any] = Field(default_factory=dict, description="That scorer's own configuration.")


class HybridConfig(PluginConfig):
    scorers: list[SubScorer] = Field(
        default_factory=lambda: [
            SubScorer(id="content", weight=1.0),
            SubScorer(id="collaborative", weight=1.0),
            SubScorer(id="popularity", weight=0.2),
        ],
        min_length=1,
        description="The scorers to blend, each with a weight and its configuration.",
    )
    method: Literal["weighted", "rrf"] = Field(
        "rrf", description="'weighted' sums min-max normalised scores; 'rrf' sums weight / (rrf_k + rank)."
    )
    rrf_k: float = Field(60.0, gt=0, description="Rank offset of reciprocal rank fusion.")
    candidates: int = Field(200, ge=1, le=10_000, description="Candidates asked of each scorer.")
    short_history: int = Field(
        0,
        ge=0,
        description="Users with fewer positive history events than this get each scorer's short_history_weight, "
        "for example to lean on content rather than collaborative filtering for new users.",
    )


class HybridScorer(Scorer):
    id = "hybrid"
    label = gettext_lazy("Hybrid")
    description = gettext_lazy("Blends several scorers, by weighted normalised scores or by reciprocal rank fusion.")
    Config = HybridConfig
    batch_scoring = True

    def __init__(self, config=None):
        super().__init__(config)
        self._scorers: list[Scorer] = []

    @classmethod
    def sub_scorers(cls, config):
        return [PluginRef(id=sub.id, config=sub.config, weight=sub.weight) for sub in config.scorers]

    def bind_sub_scorers(self, scorers):
        self._scorers = list(scorers)

    def score(self, context, k):
        totals: dict[int, float] = {}
        parts: dict[int, dict[str, float]] = {}
        for sub, scorer in zip(self.config.scorers, self._scorers, strict=True):
            weight = self._weight(sub, context)
            if weight == 0:
                continue
            candidates = scorer.score(context, max(k, self.config.candidates))
            for item_id, contribution in self._contributions(candidates, weight):
                totals[item_id] = totals.get(item_id, 0.0) + contribution
                parts.setdefault(item_id, {})[sub.id] = contribution

        ranked = sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))[:k]
        return [ScoredItem(item_id, total, parts[item_id]) for item_id, total in ranked]

    def _weight(self, sub: SubScorer, context) -> float:
        """Pick the sub-scorer's weight: for a query first, then for a short history, else the plain one."""
        if context.query_vector is not None and sub.query_weight is not None:
            return sub.query_weight
        short = sum(entry.weight > 0 for entry in context.history) < self.config.short_history
        if short and sub.short_history_weight is not None:
            return sub.short_history_weight
        return sub.weight

    def _contributions(self, candidates: list[ScoredItem], weight: float):
        if self.config.method == "rrf":
            return [(item.item_id, weight / (self.config.rrf_k + rank)) for rank, item in enumerate(candidates, 1)]
        if not candidates:
            return []
        high = max(item.score for item in candidates)
        low = min(item.score for item in candidates)
        spread = (high - low) or 1.0
        return [(item.item_id, weight * (item.score - low) / spread) for item in candidates]

    def score_batch(self, contexts, candidates, k):
        totals = np.zeros((len(contexts), len(candidates)))
        reached = np.zeros(totals.shape, dtype=bool)
        depth = max(k, self.config.candidates)
        for sub, scorer in zip(self.config.scorers, self._scorers, strict=True):
            weights = np.array([self._weight(sub, context) for context in contexts], dtype=np.float64)
            if not weights.any():
                continue
            scores = scorer.score_batch(contexts, candidates, depth)
            top = top_positions(scores, depth)
            in_blend = (top >= 0) & (weights[:, np.newaxis] != 0)
            rows = np.broadcast_to(np.arange(len(contexts))[:, np.newaxis], top.shape)
            contributions = self._batch_contributions(scores, top, in_blend, weights)
            totals[rows[in_blend], top[in_blend]] += contributions[in_blend]
            reached[rows[in_blend], top[in_blend]] = True
        totals[~reached] = -np.inf
        return totals

    def _batch_contributions(self, scores, top, in_blend, weights) -> np.ndarray:
        """Return the contribution of each candidate in the blend, the matrix form of :meth:`_contributions`."""
        if self.config.method == "rrf":
            ranks = np.arange(1, top.shape[1] + 1)
            return weights[:, np.newaxis] / (self.config.rrf_k + ranks)[np.newaxis, :]
        values = np.take_along_axis(scores, np.where(in_blend, top, 0), axis=1)
        high = np.where(in_blend, values, -np.inf).max(axis=1, keepdims=True)
        low = np.where(in_blend, values, np.inf).min(axis=1, keepdims=True)
        spread = np.where(high - low > 0, high - low, 1.0)
        return weights[:, np.newaxis] * np.where(in_blend, values - low, 0.0) / spread


@hookimpl
def register_scorers():
    return [HybridScorer]
