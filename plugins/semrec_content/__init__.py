"""Content scorer: items whose vectors are nearest to the user's or intent vector."""

import numpy as np
from django.utils.translation import gettext_lazy

from semrec.plugins import PluginConfig, ScoredItem, Scorer, hookimpl


class ContentScorer(Scorer):
    id = "content"
    label = gettext_lazy("Content similarity")
    description = gettext_lazy(
        "Ranks items by cosine similarity between their text vectors and the user's vector "
        "(or the intent vector when an intent model runs), using the pgvector HNSW index."
    )
    Config = PluginConfig
    batch_scoring = True

    def score(self, context, k):
        vector = context.retrieval_vector
        if vector is None:
            return []
        return [
            ScoredItem(item_id, similarity, {"content": similarity})
            for item_id, similarity in context.nearest_items(vector, k)
        ]

    def score_batch(self, contexts, candidates, k):
        # Exact cosine over every candidate; serving's HNSW search is approximate.
        matrix = np.full((len(contexts), len(candidates)), -np.inf)
        vectors = {row: context.retrieval_vector for row, context in enumerate(contexts)}
        rows = [row for row, vector in vectors.items() if vector is not None]
        if rows and candidates.vectors is not None:
            similarity = np.stack([vectors[row] for row in rows]) @ candidates.vectors.T
            similarity[:, ~candidates.has_vector] = -np.inf
            matrix[rows] = similarity
        matrix[candidates.exclusion_mask(contexts)] = -np.inf
        return matrix


@hookimpl
def register_scorers():
    return [ContentScorer]
