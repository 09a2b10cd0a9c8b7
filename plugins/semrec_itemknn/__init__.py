"""Item-kNN scorer: items similar to the user's history by shared users."""

from semrec.plugins import hookimpl

from .knn import ItemKnnScorer


@hookimpl
def register_scorers():
    return [ItemKnnScorer]
