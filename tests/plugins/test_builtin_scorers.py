"""Known results of the built-in scorers on the tiny in-memory catalogue."""

import pytest

from semrec.plugins import HistoryEntry, get_registry
from semrec.plugins.testing import COOKING_ITEMS, SPACE_ITEMS, space_fan_context, tiny_interactions, tiny_item_vectors


def _scorer(plugin_id, config=None):
    registry = get_registry()
    scorer = registry.create("scorer", plugin_id, config or {})
    children = [registry.create("scorer", ref.id, ref.config) for ref in scorer.sub_scorers(scorer.config)]
    for child in children:
        if child.trainable:
            child.fit(tiny_interactions())
    scorer.bind_sub_scorers(children)
    if scorer.trainable:
        scorer.fit(tiny_interactions())
    return scorer


# Two factors: with as many factors as the tiny catalogue has items, ALS
# memorises the training matrix and generalises nothing.
SMALL_ALS = {"factors": 2}
HYBRID = {
    "scorers": [
        {"id": "content", "weight": 1.0},
        {"id": "collaborative", "weight": 1.0, "config": SMALL_ALS},
        {"id": "popularity", "weight": 0.2},
    ]
}


def _ids(scored):
    return [item.item_id for item in scored]


def test_content_prefers_history_cluster():
    assert set(_ids(_scorer("content").score(space_fan_context(), 2))) <= set(SPACE_ITEMS)


def test_collaborative_prefers_similar_users():
    assert set(_ids(_scorer("collaborative", SMALL_ALS).score(space_fan_context(), 2))) <= set(SPACE_ITEMS)


def test_collaborative_folds_in_new_history():
    context = space_fan_context(exclude={5, 6})
    context.history = [HistoryEntry(5, 1.0, 1.0), HistoryEntry(6, 1.0, 2.0)]
    assert set(_ids(_scorer("collaborative", SMALL_ALS).score(context, 2))) <= set(COOKING_ITEMS)


def test_collaborative_without_history_returns_nothing():
    context = space_fan_context()
    context.history = []
    assert _scorer("collaborative", SMALL_ALS).score(context, 3) == []


def test_popularity_counts_interactions():
    scored = _scorer("popularity").score(space_fan_context(exclude=set()), 8)
    assert scored[0].score == pytest.approx(1.0)
    assert len(scored) == 8


def test_popularity_window():
    # Interactions have timestamps 0..23 seconds; a window of 1e-4 days (8.64 s)
    # keeps only the newest ones, which are cooking items.
    scored = _scorer("popularity", {"window_days": 1e-4}).score(space_fan_context(exclude=set()), 8)
    assert set(_ids(scored)) <= set(COOKING_ITEMS)


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_hybrid_blends_and_records_parts(method):
    scored = _scorer("hybrid", {**HYBRID, "method": method}).score(space_fan_context(), 2)
    assert set(_ids(scored)) <= set(SPACE_ITEMS)
    assert {"content", "collaborative"} <= set(scored[0].details)


def test_hybrid_short_history_weights():
    config = {
        "scorers": [{"id": "content", "weight": 1.0}, {"id": "popularity", "weight": 0.0, "short_history_weight": 5.0}],
        "short_history": 10,
        "method": "weighted",
    }
    scored = _scorer("hybrid", config).score(space_fan_context(), 8)
    assert "popularity" in scored[0].details
    long_history = _scorer("hybrid", {**config, "short_history": 1}).score(space_fan_context(), 8)
    assert all("popularity" not in item.details for item in long_history)


def test_hybrid_query_weights_apply_only_with_a_query():
    config = {
        "scorers": [{"id": "content", "weight": 1.0}, {"id": "popularity", "weight": 0.0, "query_weight": 5.0}],
        "method": "weighted",
    }
    context = space_fan_context()
    without_query = _scorer("hybrid", config).score(context, 8)
    context.query_vector = tiny_item_vectors()[6]
    with_query = _scorer("hybrid", config).score(context, 8)

    assert all("popularity" not in item.details for item in without_query)
    assert "popularity" in with_query[0].details


def test_hybrid_zero_weight_scorer_skipped():
    config = {"scorers": [{"id": "content", "weight": 1.0}, {"id": "popularity", "weight": 0.0}]}
    assert all(set(item.details) == {"content"} for item in _scorer("hybrid", config).score(space_fan_context(), 5))


def _explain(details):
    from semrec.plugins import ScoredItem

    explainer = get_registry().create("explainer", "history_similarity")
    return explainer.explain([ScoredItem(3, 1.0, details)], space_fan_context())[0]


def test_explainer_popularity_reason_has_no_evidence():
    explanation = _explain({"popularity": 1.0})
    assert explanation.reason == "Popular with other users."
    assert explanation.evidence == []


def test_explainer_content_cites_similar_history():
    explanation = _explain({"content": 0.9, "popularity": 0.1})
    assert explanation.reason == "Similar to items in your history."
    assert {evidence.item_id for evidence in explanation.evidence} <= {1, 2}
    assert explanation.evidence


def test_explainer_collaborative_reason():
    assert _explain({"collaborative": 0.9, "content": 0.1}).reason == "Liked by users with tastes like yours."
