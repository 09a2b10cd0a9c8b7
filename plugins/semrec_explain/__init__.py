"""Explainer that cites the history items most similar to each recommendation."""

from __future__ import annotations

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydantic import Field

from semrec.plugins import Evidence, Explainer, Explanation, PluginConfig, hookimpl


class HistoryExplainerConfig(PluginConfig):
    max_evidence: int = Field(3, ge=1, le=20, description="History items cited per recommendation.")
    history_limit: int = Field(200, ge=1, le=5000, description="Most recent history items compared.")
    min_similarity: float = Field(0.2, ge=-1, le=1, description="Cite only items at least this similar.")


class HistoryExplainer(Explainer):
    id = "history_similarity"
    label = gettext_lazy("Similar to your history")
    description = gettext_lazy(
        "Explains each recommendation by the signal that contributed most to its score and, unless that "
        "was popularity, by the items in the user's history whose text vectors are closest to it."
    )
    Config = HistoryExplainerConfig

    def explain(self, items, context):
        history = sorted(context.history, key=lambda entry: entry.timestamp, reverse=True)
        history_ids = [entry.item_id for entry in history if entry.weight > 0][: self.config.history_limit]
        vectors = context.item_vectors(list({*history_ids, *(item.item_id for item in items)}))
        cited_ids = [item_id for item_id in history_ids if item_id in vectors]
        matrix = np.stack([vectors[item_id] for item_id in cited_ids]) if cited_ids else None
        return [self._explain_one(item, vectors, cited_ids, matrix, context) for item in items]

    def _explain_one(self, item, vectors, cited_ids, matrix, context):
        signal = _main_signal(item)
        if signal == "popularity":
            return Explanation(item.item_id, _("Popular with other users."))

        vector = vectors.get(item.item_id)
        evidence = self._evidence(vector, cited_ids, matrix)
        if signal == "collaborative":
            return Explanation(item.item_id, _("Liked by users with tastes like yours."), evidence)
        if self._matches_query(vector, context):
            return Explanation(item.item_id, _("Matches your query %(query)r.") % {"query": context.query_text}, evidence)
        if evidence:
            return Explanation(item.item_id, _("Similar to items in your history."), evidence)
        if context.searches and vector is not None:
            return Explanation(item.item_id, _("Close to what you searched for recently."))
        return Explanation(item.item_id, _("Popular with other users."))

    def _matches_query(self, vector, context) -> bool:
        query = context.query_vector
        return query is not None and vector is not None and float(vector @ query) >= self.config.min_similarity

    def _evidence(self, vector, cited_ids, matrix) -> list[Evidence]:
        if matrix is None or vector is None:
            return []
        similarities = matrix @ vector
        best = np.argsort(-similarities)[: self.config.max_evidence]
        return [
            Evidence(cited_ids[index], float(similarities[index]))
            for index in best
            if similarities[index] >= self.config.min_similarity
        ]


#: Score parts added by the core's re-ranking, not by a scorer.
STEERING_PARTS = frozenset({"base", "intent_boost"})


def _main_signal(item) -> str | None:
    """Return the scorer signal that contributed most to the item's score, if the scorer recorded parts."""
    parts = [(name, value) for name, value in item.details.items() if name not in STEERING_PARTS]
    if not parts:
        return None
    return max(parts, key=lambda pair: pair[1])[0]


@hookimpl
def register_explainers():
    return [HistoryExplainer]
