"""Intent at serving time: query steering, passthrough while untrained, reload on activation, searches."""

import io
import json

import numpy as np
import pytest

from semrec.plugins import ScoredItem
from semrec.recommend.models import Recommendation
from semrec.recommend.service import recommend_for_user, search_items, steer_by_intent
from semrec.strategies.models import Strategy
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import run_now

from .helpers import get_user, result_ids, send_events


@pytest.fixture
def steered(strategy):
    """A hybrid strategy whose intent model saw enough stand-in queries to read queries on this tiny catalogue."""
    steered = Strategy.objects.create(
        tenant=strategy.tenant,
        name="steered",
        scorer_id="hybrid",
        intent_model_config={"min_examples": 10, "stand_in_query_share": 1.0, "learning_rate": 0.05},
    )
    run_now(steered, TrainingRun.Kind.TRAIN)
    return steered


@pytest.fixture
def fresh_runtimes(settings):
    """Serving re-checks active model versions on every request."""
    settings.SEMREC_RUNTIME_REFRESH_SECONDS = 0


def test_query_changes_the_list_for_the_same_user(strategy):
    space_fan = get_user(strategy.tenant, "space-fan")

    space = recommend_for_user(strategy.tenant, space_fan, n=4, query="rockets, planets and astronauts")
    cooking = recommend_for_user(strategy.tenant, space_fan, n=4, query="baking bread and cooking pasta")

    assert result_ids(space) != result_ids(cooking)
    assert sum(item_id.startswith("cook-") for item_id in result_ids(cooking)) >= 2, result_ids(cooking)
    assert result_ids(space)[0].startswith("space-"), result_ids(space)


def test_explain_shows_top_intents(steered):
    result = recommend_for_user(
        steered.tenant, get_user(steered.tenant, "space-fan"), n=3, explain=True, strategy_name="steered", query="baking bread and cooking pasta"
    )

    assert result.intent["model"] == "softmax"
    top = result.intent["top"]
    assert top[0]["label"] == "Cooking", top
    assert [entry["probability"] for entry in top] == sorted((entry["probability"] for entry in top), reverse=True)
    assert all("intent_boost" in row["explanation"]["scorers"] for row in result.items)


def test_no_intent_without_explain(strategy):
    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "space-fan"), n=3)

    assert result.intent is None


def test_query_is_logged(strategy):
    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "cook"), n=3, query="jazz")

    assert Recommendation.objects.get(pk=result.id).query == "jazz"


def test_untrained_intent_model_answers_with_passthrough(strategy):
    untrained = Strategy.objects.create(tenant=strategy.tenant, name="untrained", scorer_id="content")

    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "space-fan"), n=3, explain=True, strategy_name="untrained")

    assert result.intent == {"model": "passthrough", "top": []}
    assert any("'softmax' has no trained version yet" in note and "passthrough" in note for note in result.notes), result.notes
    assert not result.fell_back
    assert untrained.pk


def test_strategy_without_intent_model_still_uses_the_query(strategy):
    Strategy.objects.create(tenant=strategy.tenant, name="plain", scorer_id="content", intent_model_id="")

    result = recommend_for_user(
        strategy.tenant, get_user(strategy.tenant, "space-fan"), n=3, strategy_name="plain", query="sushi, curry and soup recipes"
    )

    assert all(item_id.startswith("cook-") for item_id in result_ids(result)[:2]), result_ids(result)


def _favour(version: ModelVersion, label: str) -> ModelVersion:
    """Save a copy of an intent model version whose bias strongly favours ``label``."""
    with np.load(io.BytesIO(bytes(version.artifact))) as arrays:
        saved = {name: arrays[name] for name in arrays.files}

    labels = json.loads(str(saved["labels"]))
    saved["bias"] = saved["bias"].copy()
    saved["bias"][labels.index(label)] += 50.0
    buffer = io.BytesIO()
    np.savez(buffer, **saved)
    return ModelVersion.objects.create(
        tenant=version.tenant,
        strategy=version.strategy,
        role=version.role,
        plugin_id=version.plugin_id,
        plugin_version=version.plugin_version,
        artifact=buffer.getvalue(),
        metrics={},
    )


def test_activated_version_serves_without_restart(strategy, fresh_runtimes):
    user = get_user(strategy.tenant, "space-fan")
    trained = ModelVersion.objects.get(strategy=strategy, plugin_id="softmax", is_active=True)
    before = recommend_for_user(strategy.tenant, user, n=3, explain=True).intent["top"][0]["label"]

    music = _favour(trained, "Music")
    music.activate()
    after = recommend_for_user(strategy.tenant, user, n=3, explain=True).intent["top"][0]["label"]
    trained.activate()
    restored = recommend_for_user(strategy.tenant, user, n=3, explain=True).intent["top"][0]["label"]

    assert before != "Music"
    assert after == "Music"
    assert restored == before


def test_search_event_updates_the_user_vector_at_once(strategy):
    Strategy.objects.create(tenant=strategy.tenant, name="content", scorer_id="content")
    send_events(strategy.tenant, [{"user_id": "listener", "kind": "search", "query": "jazz saxophone and trumpet"}])

    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "listener"), n=3, strategy_name="content")

    assert not result.fell_back, result.notes
    assert all(item_id.startswith("jazz-") for item_id in result_ids(result)), result_ids(result)


def test_search_weight_zero_ignores_searches(strategy):
    Strategy.objects.create(
        tenant=strategy.tenant, name="content", scorer_id="content", options={"event_weights": {"search": 0.0}}
    )
    send_events(strategy.tenant, [{"user_id": "listener", "kind": "search", "query": "jazz saxophone and trumpet"}])

    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "listener"), n=3, strategy_name="content")

    assert result.fell_back


def test_intent_filter_keeps_only_likely_categories(steered):
    from ..catalogue import ITEMS

    categories = {item_id: cats for item_id, _title, _description, cats in ITEMS}
    user, query = get_user(steered.tenant, "space-fan"), "baking bread and cooking pasta"
    unfiltered = recommend_for_user(steered.tenant, user, n=3, explain=True, strategy_name="steered", query=query)
    probability = {entry["label"]: entry["probability"] for entry in unfiltered.intent["top"]}
    # The top intent's own items (six cooking items) are enough to fill the list.
    threshold = max(probability.values()) - 1e-3
    steered.options = {"intent_min_probability": threshold}
    steered.save()

    result = recommend_for_user(steered.tenant, user, n=3, strategy_name="steered", query=query)

    assert len(probability) == 5
    for item_id in result_ids(result):
        assert sum(probability[c] for c in categories[item_id]) >= threshold, (item_id, probability)


def test_search_without_user_ranks_by_query(strategy):
    result = search_items(strategy.tenant, "sushi and curry recipes", n=3)

    assert all(item_id.startswith("cook-") for item_id in result_ids(result)), result_ids(result)
    log = Recommendation.objects.get(pk=result.id)
    assert (log.kind, log.query, log.user) == (Recommendation.Kind.SEARCH, "sushi and curry recipes", None)


def test_search_is_personalised_by_the_user(strategy):
    space_fan = result_ids(search_items(strategy.tenant, "history", user=get_user(strategy.tenant, "space-fan"), n=5))
    crowd = result_ids(search_items(strategy.tenant, "history", user=get_user(strategy.tenant, "crowd-0"), n=5))

    def space_count(ids):
        return sum(item_id.startswith("space-") for item_id in ids)

    assert space_count(space_fan) > space_count(crowd), (space_fan, crowd)
    assert {"space-3", "jazz-3"} <= set(space_fan) | set(crowd)


def test_search_excludes_seen_only_when_asked(strategy):
    user = get_user(strategy.tenant, "space-fan")

    with_seen = search_items(strategy.tenant, "rocket to Mars", user=user, n=3)
    hidden = search_items(strategy.tenant, "rocket to Mars", user=user, n=3, exclude_seen=True)

    assert "space-1" in result_ids(with_seen)
    assert "space-1" not in result_ids(hidden)


def test_steer_by_intent_boosts_probable_categories():
    scored = [ScoredItem(1, 0.9), ScoredItem(2, 0.8), ScoredItem(3, 0.5)]
    categories = {1: ["Drama"], 2: ["Comedy"], 3: ["Comedy", "Romance"]}
    distribution = {"Drama": 0.1, "Comedy": 0.6, "Romance": 0.3}

    steered = steer_by_intent(scored, categories, distribution, boost=1.0, min_probability=0.0, n=3)

    # Normalised scores 1.0, 0.75, 0.0 plus boosts 0.1, 0.6, 0.9.
    assert [entry.item_id for entry in steered] == [2, 1, 3]
    assert [round(entry.score, 4) for entry in steered] == [1.35, 1.1, 0.9]
    assert [entry.details["base"] + entry.details["intent_boost"] for entry in steered] == pytest.approx([1.35, 1.1, 0.9])


def test_steer_by_intent_filter_keeps_enough():
    scored = [ScoredItem(1, 0.9), ScoredItem(2, 0.8)]
    categories = {1: ["Drama"], 2: ["Comedy"]}

    filtered = steer_by_intent(scored, categories, {"Drama": 0.1, "Comedy": 0.9}, boost=0.0, min_probability=0.5, n=1)
    unfiltered = steer_by_intent(scored, categories, {"Drama": 0.1, "Comedy": 0.9}, boost=0.0, min_probability=0.5, n=2)

    assert [entry.item_id for entry in filtered] == [2]
    assert [entry.item_id for entry in unfiltered] == [1, 2]


def test_explanation_cites_the_query(strategy):
    Strategy.objects.create(tenant=strategy.tenant, name="content", scorer_id="content")

    result = recommend_for_user(
        strategy.tenant, get_user(strategy.tenant, "cook"), n=2, explain=True, strategy_name="content", query="jazz saxophone and trumpet"
    )

    assert [row["explanation"]["reason"] for row in result.items] == ["Matches your query 'jazz saxophone and trumpet'."] * 2


def test_explanation_after_a_search_only(strategy):
    Strategy.objects.create(tenant=strategy.tenant, name="content", scorer_id="content")
    send_events(strategy.tenant, [{"user_id": "listener", "kind": "search", "query": "jazz saxophone and trumpet"}])

    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "listener"), n=2, explain=True, strategy_name="content")

    assert {row["explanation"]["reason"] for row in result.items} == {"Close to what you searched for recently."}
