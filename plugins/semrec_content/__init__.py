"""Content scorer: items whose vectors are nearest to the user's or intent vector."""

from semrec.plugins import PluginConfig, ScoredItem, Scorer, hookimpl


class ContentScorer(Scorer):
    id = "content"
    label = "Content similarity"
    description = (
        "Ranks items by cosine similarity between their text vectors and the user's vector "
        "(or the intent vector when an intent model runs), using the pgvector HNSW index."
    )
    Config = PluginConfig

    def score(self, context, k):
        vector = context.retrieval_vector
        if vector is None:
            return []
        return [
            ScoredItem(item_id, similarity, {"content": similarity})
            for item_id, similarity in context.nearest_items(vector, k)
        ]


@hookimpl
def register_scorers():
    return [ContentScorer]
