"""Impression metrics for MIND: AUC, MRR and nDCG within an impression, against hand-computed values."""

import math

import numpy as np
import pytest

from semrec.evaluation.impressions import evaluate, impression_auc, mrr, ndcg, ranking_order

CLICKED = np.array([True, False, True, False])
SCORES = np.array([0.8, 0.6, 0.4, 0.2])
BEST_FIRST = np.array([0, 1, 2, 3])


def test_auc_counts_pairs():
    # Clicked scores 0.8 and 0.4 beat 2 and 1 of the two non-clicked ones: 3 of 4 pairs.
    assert impression_auc(CLICKED, SCORES) == pytest.approx(0.75)


def test_auc_perfect_and_reversed():
    assert impression_auc([True, False, False], [0.9, 0.5, 0.1]) == 1.0
    assert impression_auc([True, False, False], [0.1, 0.5, 0.9]) == 0.0


def test_auc_ties_count_half():
    assert impression_auc([True, False], [0.3, 0.3]) == 0.5


def test_auc_missing_score_loses():
    assert impression_auc([True, False], [float("nan"), -5.0]) == 0.0


def test_auc_needs_both_labels():
    with pytest.raises(ValueError, match="one clicked and one non-clicked"):
        impression_auc([True, True], [0.1, 0.2])


def test_mrr_averages_clicked_ranks():
    assert mrr(CLICKED, BEST_FIRST) == pytest.approx((1 + 1 / 3) / 2)


def test_ndcg_binary_gains():
    ideal = 1 + 1 / math.log2(3)
    assert ndcg(CLICKED, BEST_FIRST, 10) == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert ndcg(CLICKED, BEST_FIRST, 1) == 1.0


def test_ndcg_cutoff_drops_late_clicks():
    assert ndcg(np.array([False, False, True]), np.array([0, 1, 2]), 2) == 0.0


def test_ranking_puts_missing_scores_last():
    order = ranking_order(np.array([float("nan"), 0.1, 0.9]), np.random.default_rng(0))
    assert list(order) == [2, 1, 0]


def test_evaluate_known_impressions():
    metrics = evaluate([(CLICKED, SCORES), ([False, True], [0.9, 0.1])])
    assert metrics.impressions == 2
    assert metrics.auc == pytest.approx((0.75 + 0.0) / 2)
    assert metrics.mrr == pytest.approx(((1 + 1 / 3) / 2 + 0.5) / 2)
    assert metrics.ndcg_at_5 == pytest.approx(((1.5 / (1 + 1 / math.log2(3))) + 1 / math.log2(3)) / 2)


def test_evaluate_skips_impressions_without_ranking():
    metrics = evaluate([([True, True], [0.1, 0.2]), ([False, False], [0.1, 0.2]), ([True, False], [0.9, 0.1])])
    assert metrics.impressions == 1
    assert metrics.skipped == 2
    assert metrics.auc == 1.0


def test_ties_ignore_shown_order():
    # Every impression lists its click first and all scores tie; a ranking
    # that kept the shown order would reach an MRR of 1.0.
    metrics = evaluate([([True, False], [0.0, 0.0])] * 400, seed=3)
    assert metrics.auc == 0.5
    assert 0.70 < metrics.mrr < 0.80


def test_evaluate_rejects_length_mismatch():
    with pytest.raises(ValueError, match="2 labels but 3 scores"):
        evaluate([([True, False], [0.1, 0.2, 0.3])])


def test_as_dict_rounds():
    values = evaluate([(CLICKED, SCORES)]).as_dict()
    assert values["auc"] == 0.75
    assert values["impressions"] == 1
