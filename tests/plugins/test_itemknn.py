"""The item-kNN scorer against hand-computed similarities."""

import numpy as np
import pytest
from semrec_itemknn import ItemKnnScorer

from semrec.plugins import HistoryEntry, InMemoryContext, InteractionData

# Users 1 and 2 share items 10 and 11; user 2 also has 12, which user 3 has alone.
ROWS = [(1, 10), (1, 11), (2, 10), (2, 11), (2, 12), (3, 12)]


def interactions() -> InteractionData:
    users, items = zip(*ROWS, strict=True)
    return InteractionData(
        user_ids=np.array(users, dtype=np.int64),
        item_ids=np.array(items, dtype=np.int64),
        weights=np.full(len(ROWS), 0.5, dtype=np.float32),
        timestamps=np.zeros(len(ROWS)),
    )


def _similarity(scorer) -> np.ndarray:
    return scorer.similarity.toarray()


@pytest.mark.parametrize(("shrinkage", "strong", "weak"), [(0.0, 2 / 2, 1 / 2), (2.0, 2 / 4, 1 / 4)])
def test_similarity_by_hand(shrinkage, strong, weak):
    # Every item has two users: 10 and 11 share two, 10 and 12 (and 11 and 12) share one.
    scorer = ItemKnnScorer({"shrinkage": shrinkage})
    scorer.fit(interactions())
    expected = np.array([[0, strong, weak], [strong, 0, weak], [weak, weak, 0]])
    np.testing.assert_allclose(_similarity(scorer), expected, rtol=1e-6)


def test_neighbours_keep_most_similar():
    scorer = ItemKnnScorer({"shrinkage": 0.0, "neighbours": 1})
    scorer.fit(interactions())
    similarity = _similarity(scorer)
    assert (similarity > 0).sum(axis=1).tolist() == [1, 1, 1]
    assert similarity[0, 1] == pytest.approx(1.0)


def test_scores_sum_history_similarities():
    scorer = ItemKnnScorer({"shrinkage": 0.0})
    scorer.fit(interactions())
    context = InMemoryContext(item_vectors={}, history=[HistoryEntry(10, 1.0, 0.0), HistoryEntry(11, 1.0, 0.0)], exclude={10, 11}, user_id=9)
    [item] = scorer.score(context, 5)
    assert item.item_id == 12
    assert item.score == pytest.approx(0.5 + 0.5)


def test_weighted_history_when_not_binary():
    scorer = ItemKnnScorer({"shrinkage": 0.0, "binary": False})
    scorer.fit(interactions())
    context = InMemoryContext(item_vectors={}, history=[HistoryEntry(10, 3.0, 0.0)], exclude={10}, user_id=9)
    assert [(item.item_id, round(item.score, 6)) for item in scorer.score(context, 5)] == [(11, 3.0), (12, 1.5)]


def test_history_without_neighbours_returns_nothing():
    scorer = ItemKnnScorer({})
    scorer.fit(interactions())
    context = InMemoryContext(item_vectors={}, history=[HistoryEntry(99, 1.0, 0.0)], user_id=9)
    assert scorer.score(context, 5) == []
