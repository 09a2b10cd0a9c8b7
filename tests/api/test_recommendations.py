"""Recommendations and similar items over the encoded and trained test catalogue.

The ``strategy`` fixture encodes the catalogue with the real MiniLM weights
and trains the collaborative model, so each test takes about a second on a CPU.
"""

import uuid

import pytest

from semrec.catalog.models import Event
from semrec.recommend.models import Recommendation
from semrec.strategies.models import Strategy
from semrec.training.models import TrainingRun
from semrec.training.runs import run_now

from ..catalogue import COOK_HISTORY, ITEMS, SPACE_FAN_HISTORY

TITLES = {item_id: title for item_id, title, _description, _categories in ITEMS}
ALL_ITEMS = len(ITEMS)
# In the catalogue cook-1 has 7 purchases and cook-5, cook-6 and jazz-1 have
# 6 each. Popularity ranks ties by insertion order.
MOST_POPULAR = ["cook-1", "cook-5", "cook-6", "jazz-1"]


def _recommend(client, user_id="space-fan", **params):
    return client.get(f"/api/v1/users/{user_id}/recommendations/", params)


def _similar(client, item_id="space-1", **params):
    return client.get(f"/api/v1/items/{item_id}/similar/", params)


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def broken_strategy(strategy):
    """A strategy naming a scorer that no installed plugin provides."""
    # bulk_create skips save(), as a plugin uninstalled after saving would.
    return Strategy.objects.bulk_create([Strategy(tenant=strategy.tenant, name="broken", scorer_id="nope")])[0]


@pytest.fixture
def newcomer(client, strategy):
    response = client.post("/api/v1/users/", [{"id": "newcomer"}], format="json")
    assert response.status_code == 200, response.content
    return "newcomer"


# --- Recommendations for a user ---


def test_recommendations_shape(client, strategy):
    response = _recommend(client)

    assert response.status_code == 200
    body = response.json()
    assert uuid.UUID(body["recommendation_id"])
    assert body["strategy"] == "hybrid"
    assert body["fell_back"] is False
    assert body["notes"] == []
    assert len(body["items"]) == 10
    for item in body["items"]:
        assert set(item) == {"id", "title", "score"}
        assert item["title"] == TITLES[item["id"]]
        assert isinstance(item["score"], float)
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_recommendations_follow_theme(client, strategy):
    top = _ids(_recommend(client, n=2))

    assert top[0].startswith("space-")
    assert top[1].startswith("space-")


@pytest.mark.parametrize("n", [1, 3, 7])
def test_n_respected(client, strategy, n):
    response = _recommend(client, n=n)

    assert len(response.json()["items"]) == n


def test_exclude_seen_by_default(client, strategy):
    ids = _ids(_recommend(client, n=ALL_ITEMS))

    assert not set(ids) & set(SPACE_FAN_HISTORY)
    assert len(ids) == ALL_ITEMS - len(SPACE_FAN_HISTORY)


def test_exclude_seen_false_includes_history(client, strategy):
    ids = _ids(_recommend(client, n=ALL_ITEMS, exclude_seen="false"))

    assert set(SPACE_FAN_HISTORY) <= set(ids)
    assert len(ids) == ALL_ITEMS


def test_explain_cites_history(client, strategy):
    items = _recommend(client, explain=1, n=5).json()["items"]

    for item in items:
        assert item["explanation"]["reason"], item
        for evidence in item["explanation"]["because"]:
            assert evidence["id"] in SPACE_FAN_HISTORY, item
            assert evidence["title"] == TITLES[evidence["id"]]
            assert isinstance(evidence["similarity"], float)
    assert items[0]["explanation"]["because"]
    assert items[0]["explanation"]["scorers"]


def test_explain_for_other_user(client, strategy):
    items = _recommend(client, "cook", explain="true", n=3).json()["items"]

    cited = {evidence["id"] for item in items for evidence in item["explanation"]["because"]}
    assert cited
    assert cited <= set(COOK_HISTORY)


def test_no_explanation_by_default(client, strategy):
    items = _recommend(client, n=3).json()["items"]

    for item in items:
        assert "explanation" not in item


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"n": 0}, "n"),
        ({"n": 1000}, "n"),
        ({"n": "abc"}, "n"),
        ({"n": -1}, "n"),
        ({"exclude_seen": "maybe"}, "exclude_seen"),
        ({"explain": "sometimes"}, "explain"),
        ({"strategy": "not a slug!"}, "strategy"),
    ],
)
def test_bad_parameter_is_400(client, strategy, params, field):
    response = _recommend(client, **params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert [entry["field"] for entry in error["errors"]] == [field]
    assert error["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"n": "abc"}, "Must be a whole number, got 'abc'."),
        ({"n": 1000}, "Must be at most 200, got 1000."),
        ({"n": 0}, "Must be at least 1, got 0."),
        ({"explain": "sometimes"}, "Must be true or false (also 1 or 0, yes or no), got 'sometimes'."),
    ],
)
def test_bad_parameter_names_value(client, strategy, params, reason):
    response = _recommend(client, **params)

    assert response.json()["error"]["errors"][0]["reason"] == reason


def test_bad_parameter_message_in_chinese(client, strategy):
    response = client.get("/api/v1/users/space-fan/recommendations/", {"n": "abc"}, HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert response.json()["error"]["errors"][0]["reason"] == "必须是整数，实际为 'abc'。"


def test_unknown_user_is_404(client, strategy):
    response = _recommend(client, "ghost")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"
    assert "'ghost'" in response.json()["error"]["message"]


def test_unknown_strategy_is_404(client, strategy):
    response = _recommend(client, strategy="missing")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "strategy_not_found"
    assert "'missing'" in response.json()["error"]["message"]
    assert "hybrid" in response.json()["error"]["message"]


def test_strategy_override_by_name(client, strategy):
    Strategy.objects.create(tenant=strategy.tenant, name="popular", scorer_id="popularity")

    response = _recommend(client, strategy="popular", n=4)

    assert response.status_code == 200
    assert response.json()["strategy"] == "popular"
    assert response.json()["fell_back"] is False
    assert _ids(response) == MOST_POPULAR
    assert Recommendation.objects.get(pk=response.json()["recommendation_id"]).strategy.name == "popular"


def test_cold_user_gets_popular_items(client, newcomer):
    """The default hybrid blends in popularity, so it serves a newcomer itself."""
    response = _recommend(client, newcomer, n=4)

    assert response.status_code == 200
    assert response.json()["fell_back"] is False
    assert _ids(response) == MOST_POPULAR


def test_cold_user_content_falls_back(client, newcomer, strategy):
    """A content-only strategy finds no user vector for a newcomer, so the popularity fallback serves."""
    Strategy.objects.create(tenant=strategy.tenant, name="content", scorer_id="content")

    response = _recommend(client, newcomer, strategy="content", n=4)

    assert response.status_code == 200
    assert response.json()["fell_back"] is True
    assert response.json()["notes"]
    assert _ids(response) == MOST_POPULAR


def test_first_event_personalises(client, newcomer):
    event = {"user_id": newcomer, "item_id": "space-1", "kind": "purchase"}
    assert client.post("/api/v1/events/", [event], format="json").status_code == 200

    response = _recommend(client, newcomer, n=3)

    assert response.json()["fell_back"] is False
    assert "space-1" not in _ids(response)
    assert _ids(response)[0].startswith("space-")


def test_missing_plugin_falls_back(client, broken_strategy):
    response = _recommend(client, strategy="broken", explain=1, n=4)

    assert response.status_code == 200
    body = response.json()
    assert body["strategy"] == "broken"
    assert body["fell_back"] is True
    assert len(body["notes"]) == 1
    assert "'nope'" in body["notes"][0]
    assert len(body["items"]) == 4
    assert not set(_ids(response)) & set(SPACE_FAN_HISTORY)


def test_unavailable_item_not_recommended(client, strategy):
    update = client.post("/api/v1/items/", [{"id": "space-4", "title": TITLES["space-4"], "available": False}], format="json")
    assert update.json()["updated"] == 1

    ids = _ids(_recommend(client, n=ALL_ITEMS))

    assert "space-4" not in ids
    assert ids


def test_recommendation_logged(client, strategy):
    body = _recommend(client, n=5).json()

    logged = Recommendation.objects.get(pk=body["recommendation_id"])
    assert logged.tenant == strategy.tenant
    assert logged.strategy == strategy
    assert logged.user.external_id == "space-fan"
    assert logged.kind == Recommendation.Kind.USER
    assert logged.items == [item["id"] for item in body["items"]]
    assert logged.fell_back is False


def test_fallback_logged(client, broken_strategy):
    body = _recommend(client, strategy="broken").json()

    assert Recommendation.objects.get(pk=body["recommendation_id"]).fell_back is True


def test_click_keeps_recommendation_id(client, strategy):
    body = _recommend(client, n=1).json()
    click = {
        "user_id": "space-fan",
        "item_id": body["items"][0]["id"],
        "kind": "click",
        "recommendation_id": body["recommendation_id"],
    }

    response = client.post("/api/v1/events/", [click], format="json")

    assert response.status_code == 200
    assert Event.objects.get(kind="click").recommendation_id == uuid.UUID(body["recommendation_id"])


def test_recommendations_without_trailing_slash(client, strategy):
    response = client.get("/api/v1/users/space-fan/recommendations")

    assert response.status_code == 200


def test_user_id_with_slash(client, strategy):
    event = {"user_id": "team/7", "item_id": "cook-2", "kind": "purchase"}
    assert client.post("/api/v1/events/", [event], format="json").status_code == 200

    response = client.get("/api/v1/users/team%2F7/recommendations/")

    assert response.status_code == 200
    assert "cook-2" not in _ids(response)


# --- Similar items ---


def test_similar_items_shape(client, strategy):
    response = _similar(client, n=3)

    assert response.status_code == 200
    body = response.json()
    assert uuid.UUID(body["recommendation_id"])
    assert body["fell_back"] is False
    assert len(body["items"]) == 3
    assert "space-1" not in _ids(response)
    for item in body["items"]:
        assert item["title"] == TITLES[item["id"]]
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_similar_items_share_theme(client, strategy):
    for item_id in _ids(_similar(client, "space-1", n=3)):
        assert item_id.startswith("space-")
    for item_id in _ids(_similar(client, "cook-1", n=3)):
        assert item_id.startswith("cook-")


def test_similar_items_never_self(client, strategy):
    ids = _ids(_similar(client, "jazz-2", n=ALL_ITEMS))

    assert "jazz-2" not in ids
    assert len(ids) == ALL_ITEMS - 1


def test_similar_skips_unavailable(client, strategy):
    nearest = _ids(_similar(client, n=1))[0]
    client.post("/api/v1/items/", [{"id": nearest, "title": TITLES[nearest], "available": False}], format="json")

    ids = _ids(_similar(client, n=3))

    assert nearest not in ids
    assert len(ids) == 3


def test_similar_unknown_item_is_404(client, strategy):
    response = _similar(client, "ghost")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "item_not_found"
    assert "'ghost'" in response.json()["error"]["message"]


def test_similar_unencoded_item_is_409(client, strategy):
    client.post("/api/v1/items/", [{"id": "space-7", "title": "Comet Chasers"}], format="json")

    response = _similar(client, "space-7")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "item_not_encoded"
    assert "'space-7'" in response.json()["error"]["message"]


def test_similar_bad_n_is_400(client, strategy):
    response = _similar(client, n=0)

    assert response.status_code == 400
    assert [entry["field"] for entry in response.json()["error"]["errors"]] == ["n"]


def test_similar_missing_plugin_falls_back(client, broken_strategy):
    response = _similar(client, strategy="broken", n=3)

    assert response.status_code == 200
    assert response.json()["fell_back"] is True
    assert "'nope'" in response.json()["notes"][0]
    assert len(response.json()["items"]) == 3
    assert "space-1" not in _ids(response)


def test_similar_logged(client, strategy):
    body = _similar(client, n=3).json()

    logged = Recommendation.objects.get(pk=body["recommendation_id"])
    assert logged.kind == Recommendation.Kind.SIMILAR
    assert logged.source_item.external_id == "space-1"
    assert logged.items == [item["id"] for item in body["items"]]


def test_item_id_with_slash(client, strategy):
    rows = [{"id": "shelf/42", "title": "Mars Rover", "description": "A rover drives across the red dust of Mars."}]
    client.post("/api/v1/items/", rows, format="json")
    run_now(strategy, TrainingRun.Kind.ENCODE)

    response = client.get("/api/v1/items/shelf%2F42/similar/", {"n": 2})

    assert response.status_code == 200
    assert "shelf/42" not in _ids(response)
    assert _ids(response)[0].startswith("space-")
