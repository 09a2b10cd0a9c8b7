"""The EASE scorer against closed-form and hand-computed results."""

import numpy as np
import pytest
from semrec_ease import EaseScorer

from semrec.plugins import HistoryEntry, InMemoryContext, InsufficientTrainingData, InteractionData, PluginError

ITEMS = [10, 11, 12, 13]


def interactions(rows, vectors=None) -> InteractionData:
    users, items = zip(*rows, strict=True)
    return InteractionData(
        user_ids=np.array(users, dtype=np.int64),
        item_ids=np.array(items, dtype=np.int64),
        weights=np.ones(len(rows), dtype=np.float32),
        timestamps=np.zeros(len(rows)),
        item_vectors=vectors,
    )


ROWS = [(1, 10), (1, 11), (2, 10), (2, 11), (2, 12), (3, 11), (3, 12), (4, 12), (4, 13), (5, 10), (5, 13)]


def _constrained_least_squares(matrix: np.ndarray, regularization: float) -> np.ndarray:
    """Solve each column of B separately: min |X_j - X b|^2 + lambda |b|^2 with b_j = 0."""
    gram = matrix.T @ matrix
    size = gram.shape[0]
    weights = np.zeros((size, size))
    for column in range(size):
        others = [index for index in range(size) if index != column]
        lhs = gram[np.ix_(others, others)] + regularization * np.eye(size - 1)
        weights[others, column] = np.linalg.solve(lhs, gram[others, column])
    return weights


def test_weights_solve_constrained_least_squares():
    scorer = EaseScorer({"regularization": 2.0})
    scorer.fit(interactions(ROWS))
    matrix = np.zeros((5, 4))
    for user, item in ROWS:
        matrix[user - 1, ITEMS.index(item)] = 1.0
    np.testing.assert_allclose(scorer.weights, _constrained_least_squares(matrix, 2.0), atol=1e-5)
    assert np.all(np.diag(scorer.weights) == 0)


def test_scores_are_history_times_weights():
    scorer = EaseScorer({"regularization": 2.0})
    scorer.fit(interactions(ROWS))
    context = InMemoryContext(item_vectors={}, history=[HistoryEntry(10, 1.0, 0.0), HistoryEntry(12, 0.5, 0.0)], exclude={10, 12}, user_id=9)
    expected = scorer.weights[ITEMS.index(10)] + scorer.weights[ITEMS.index(12)]
    scored = scorer.score(context, 4)
    assert [item.item_id for item in scored] == [ITEMS[i] for i in np.argsort(-expected) if ITEMS[i] not in (10, 12)]
    for item in scored:
        assert item.score == pytest.approx(expected[ITEMS.index(item.item_id)], rel=1e-5)


def test_zero_weight_history_ignored():
    scorer = EaseScorer({})
    scorer.fit(interactions(ROWS))
    context = InMemoryContext(item_vectors={}, history=[HistoryEntry(10, 0.0, 0.0)], user_id=9)
    assert scorer.score(context, 3) == []


def test_max_items_keeps_most_interacted():
    scorer = EaseScorer({"max_items": 2})
    metrics = scorer.fit(interactions(ROWS))
    # Items 10, 11 and 12 have three users each and 13 has two; ties keep the lower id.
    assert scorer.item_ids.tolist() == [10, 11]
    assert metrics["items_left_out"] == 2.0


def test_text_weight_links_items_that_never_co_occur():
    rows = [(1, 10), (1, 12), (2, 11), (2, 13)]
    vectors = {10: np.array([1.0, 0.0]), 11: np.array([1.0, 0.0]), 12: np.array([0.0, 1.0]), 13: np.array([0.6, 0.8])}
    plain = EaseScorer({"regularization": 1.0})
    plain.fit(interactions(rows, vectors))
    with_text = EaseScorer({"regularization": 1.0, "text_weight": 1.0, "text_power": 1.0})
    with_text.fit(interactions(rows, vectors))

    assert plain.weights[0, 1] == pytest.approx(0.0, abs=1e-7)
    assert with_text.weights[0, 1] > 0.1


def test_text_weight_without_vectors_raises():
    with pytest.raises(PluginError) as raised:
        EaseScorer({"text_weight": 1.0}).fit(interactions(ROWS))
    assert "manage.py semrec_encode" in str(raised.value)
    assert "text_weight to 0" in str(raised.value)


def test_no_interactions_raises():
    empty = InteractionData(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0))
    with pytest.raises(InsufficientTrainingData):
        EaseScorer({}).fit(empty)


def test_unfitted_scorer_refuses_to_score():
    with pytest.raises(PluginError):
        EaseScorer({}).score(InMemoryContext(item_vectors={}, history=[HistoryEntry(10, 1.0, 0.0)], user_id=1), 3)
