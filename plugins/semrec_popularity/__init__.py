"""Popularity scorer: the most interacted-with items, all-time or recent."""

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import Field

from semrec.plugins import PluginConfig, ScoredItem, Scorer, hookimpl


class PopularityConfig(PluginConfig):
    window_days: float | None = Field(
        None,
        gt=0,
        description="Count only events from this many days before the newest event; empty counts all time.",
    )


class PopularityScorer(Scorer):
    id = "popularity"
    label = gettext_lazy("Popularity")
    description = gettext_lazy("Ranks items by how many interactions they had, all-time or in a recent window. The fallback for cold users.")
    Config = PopularityConfig
    batch_scoring = True

    def score(self, context, k):
        popular = context.popular_items(k, window_days=self.config.window_days)
        if not popular:
            return []
        top = popular[0][1] or 1.0
        return [ScoredItem(item_id, count / top, {"popularity": count / top}) for item_id, count in popular]

    def score_batch(self, contexts, candidates, k):
        counts = candidates.popularity(self.config.window_days)
        matrix = np.tile(np.where(counts > 0, counts, -np.inf), (len(contexts), 1))
        matrix[candidates.exclusion_mask(contexts)] = -np.inf
        # Like score(): each row is divided by its most popular item that the user may get.
        top = matrix.max(axis=1, initial=-np.inf, keepdims=True)
        return np.divide(matrix, top, out=matrix.copy(), where=np.isfinite(top))


@hookimpl
def register_scorers():
    return [PopularityScorer]
