"""Popularity scorer: the most interacted-with items, all-time or recent."""

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
    label = "Popularity"
    description = "Ranks items by how many interactions they had, all-time or in a recent window. The fallback for cold users."
    Config = PopularityConfig

    def score(self, context, k):
        popular = context.popular_items(k, window_days=self.config.window_days)
        if not popular:
            return []
        top = popular[0][1] or 1.0
        return [ScoredItem(item_id, count / top, {"popularity": count / top}) for item_id, count in popular]


@hookimpl
def register_scorers():
    return [PopularityScorer]
