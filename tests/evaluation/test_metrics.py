"""Metric functions against values computed by hand."""

import math

import numpy as np
import pytest

from semrec.evaluation import metrics
from semrec.plugins import top_positions

# Three ranked items per user. A has 2 relevant items (one hit at rank 2), B has 5 (hits at
# ranks 1-3), C has none and is left out of every mean, D has 1 and no hit.
RANKED = [["x", "y", "z"], ["a", "b", "c"], ["m", "n", "o"], ["p", "q", "r"]]
RELEVANT = [{"y", "w"}, {"a", "b", "c", "d", "e"}, set(), {"s"}]
LOG2_3 = math.log2(3)


@pytest.fixture
def values():
    hits = metrics.hit_matrix(RANKED, RELEVANT, 3)
    return metrics.accuracy(hits, np.array([len(items) for items in RELEVANT]))


def test_hit_matrix_marks_relevant_ranks():
    hits = metrics.hit_matrix(RANKED, RELEVANT, 3)
    assert hits.tolist() == [[False, True, False], [True, True, True], [False, False, False], [False, False, False]]


def test_precision_by_hand(values):
    assert values["precision"] == pytest.approx((1 / 3 + 1 + 0) / 3)


def test_recall_by_hand(values):
    assert values["recall"] == pytest.approx((1 / 2 + 3 / 5 + 0) / 3)


def test_ndcg_by_hand(values):
    user_a = (1 / LOG2_3) / (1 + 1 / LOG2_3)
    assert values["ndcg"] == pytest.approx((user_a + 1.0 + 0) / 3)


def test_map_by_hand(values):
    # A: precision 1/2 at its hit, over min(2, 3) relevant; B: (1 + 1 + 1) / min(5, 3).
    assert values["map"] == pytest.approx((0.25 + 1.0 + 0) / 3)


def test_map_all_relevant_by_hand(values):
    # B divides by all 5 relevant items, as Microsoft Recommenders' map() does.
    assert values["map_all_relevant"] == pytest.approx((0.25 + 0.6 + 0) / 3)


def test_mrr_by_hand(values):
    assert values["mrr"] == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_hit_rate_by_hand(values):
    assert values["hit_rate"] == pytest.approx(2 / 3)


def test_users_without_relevant_items_left_out():
    hits = np.array([[True, False], [False, False]])
    with_empty = metrics.accuracy(hits, np.array([1, 0]))
    alone = metrics.accuracy(hits[:1], np.array([1]))
    assert with_empty == alone
    assert with_empty["ndcg"] == pytest.approx(1.0)


def test_no_user_with_relevant_items_gives_zeros():
    values = metrics.accuracy(np.zeros((2, 3), dtype=bool), np.array([0, 0]))
    assert set(values.values()) == {0.0}


def test_short_list_counts_missing_ranks_as_misses():
    hits = metrics.hit_matrix([["a"]], [{"a", "b"}], 3)
    values = metrics.accuracy(hits, np.array([2]))
    assert values["precision"] == pytest.approx(1 / 3)
    assert values["ndcg"] == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_ties_ranked_by_item_position():
    scores = np.array([[0.5, 0.9, 0.5, 0.9, -np.inf]])
    assert top_positions(scores, 3).tolist() == [[1, 3, 0]]


def test_tied_relevant_item_outside_cut_off():
    # Columns 0 and 2 tie at 0.5; column 0 wins the tie, so relevant column 2 falls to rank 4.
    scores = np.array([[0.5, 0.9, 0.5, 0.9]])
    lists = top_positions(scores, 3)
    values = metrics.accuracy(metrics.hit_matrix(lists.tolist(), [{2}], 3), np.array([1]))
    assert values["hit_rate"] == 0.0
    lists = top_positions(scores, 4)
    values = metrics.accuracy(metrics.hit_matrix(lists.tolist(), [{2}], 4), np.array([1]))
    assert values["mrr"] == pytest.approx(1 / 4)


def test_top_positions_pads_rows_without_enough_scores():
    scores = np.array([[-np.inf, 2.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    assert top_positions(scores, 2).tolist() == [[1, -1], [-1, -1]]


def test_coverage_by_hand():
    lists = np.array([[0, 1], [1, 2], [2, -1]])
    assert metrics.coverage(lists, 5) == pytest.approx(3 / 5)


def test_intra_list_diversity_by_hand():
    vectors = np.array([[1, 0], [0, 1], [1 / math.sqrt(2), 1 / math.sqrt(2)], [0, 0]], dtype=np.float32)
    has_vector = np.array([True, True, True, False])
    # List 1: orthogonal items, distance 1. List 2: cos 45 degrees, distance 1 - 0.7071.
    # List 3 has one item with a vector and is skipped.
    lists = np.array([[0, 1], [0, 2], [3, 1]])
    expected = (1.0 + (1 - 1 / math.sqrt(2))) / 2
    assert metrics.intra_list_diversity(lists, vectors, has_vector) == pytest.approx(expected, rel=1e-6)


def test_intra_list_diversity_without_measurable_lists():
    vectors = np.eye(2, dtype=np.float32)
    assert metrics.intra_list_diversity(np.array([[0, -1]]), vectors, np.array([True, True])) is None


def test_novelty_by_hand():
    # 8 training users: item 0 touched by 4 (1 bit), item 1 by 2 (2 bits), item 2 by none (counted as 1: 3 bits).
    lists = np.array([[0, 1], [2, -1]])
    assert metrics.novelty(lists, np.array([4, 2, 0]), 8) == pytest.approx((1.5 + 3.0) / 2)
