"""Query-aware recommendations and personalised search over HTTP, bad input included."""

import pytest

from semrec.recommend.models import Recommendation

LIMIT = 500


def _recommend(client, user_id="space-fan", **params):
    return client.get(f"/api/v1/users/{user_id}/recommendations/", params)


def _search(client, **params):
    return client.get("/api/v1/search/", params)


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


def _field_errors(response) -> dict[str, str]:
    return {entry["field"]: entry["reason"] for entry in response.json()["error"]["errors"]}


def test_query_changes_recommendations(client, strategy):
    space = _recommend(client, q="rockets, planets and astronauts", n=4)
    cooking = _recommend(client, q="baking bread and cooking pasta", n=4)

    assert space.status_code == cooking.status_code == 200
    assert _ids(space) != _ids(cooking)


def test_explain_returns_intent(client, strategy):
    body = _recommend(client, q="jazz trumpet", explain=1, n=3).json()

    assert body["intent"]["model"] == "softmax"
    assert {"label", "probability"} == set(body["intent"]["top"][0])


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_query_is_400_with_the_limit(client, strategy, value):
    response = _recommend(client, q=value)

    assert response.status_code == 400
    assert "1 and 500 characters" in _field_errors(response)["q"]
    assert not Recommendation.objects.exists()


def test_long_query_is_400_with_the_limit(client, strategy):
    response = _recommend(client, q="x" * (LIMIT + 1))

    assert response.status_code == 400
    assert f"at most {LIMIT}" in _field_errors(response)["q"]
    assert not Recommendation.objects.exists()


def test_query_at_the_limit_is_accepted(client, strategy):
    assert _recommend(client, q="y" * LIMIT, n=2).status_code == 200


def test_untrained_intent_model_says_so(client, strategy):
    from semrec.strategies.models import Strategy

    Strategy.objects.create(tenant=strategy.tenant, name="untrained", scorer_id="content")

    body = _recommend(client, strategy="untrained", q="space", explain=1, n=3).json()

    assert body["intent"] == {"model": "passthrough", "top": []}
    assert any("passthrough" in note for note in body["notes"])


def test_search_ranks_by_query(client, strategy):
    response = _search(client, q="sushi and curry recipes", n=3)

    assert response.status_code == 200, response.content
    assert all(item_id.startswith("cook-") for item_id in _ids(response)), _ids(response)


def test_search_for_a_user_with_explanations(client, strategy):
    body = _search(client, q="Moon astronauts", user="space-fan", explain=1, n=3).json()

    assert body["intent"]["model"] == "softmax"
    assert all("reason" in item["explanation"] for item in body["items"])


def test_search_logged_with_query(client, strategy):
    body = _search(client, q="bread", user="cook", n=2).json()

    log = Recommendation.objects.get(pk=body["recommendation_id"])
    assert (log.kind, log.query, log.user.external_id) == ("search", "bread", "cook")


def test_search_without_query_is_400(client, strategy):
    response = _search(client, n=3)

    assert response.status_code == 400
    assert "q" in _field_errors(response)


@pytest.mark.parametrize(("params", "field"), [({"q": ""}, "q"), ({"q": "x" * (LIMIT + 1)}, "q"), ({"q": "a", "n": 0}, "n"), ({"q": "a", "n": "many"}, "n")])
def test_search_bad_parameters_are_400(client, strategy, params, field):
    response = _search(client, **params)

    assert response.status_code == 400
    assert field in _field_errors(response)
    assert not Recommendation.objects.exists()


def test_search_unknown_user_is_404(client, strategy):
    response = _search(client, q="bread", user="nobody")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


def test_search_unknown_strategy_is_404(client, strategy):
    response = _search(client, q="bread", strategy="nope")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "strategy_not_found"


def test_search_needs_an_api_key(anonymous_client, strategy):
    assert _search(anonymous_client, q="bread").status_code == 401


def test_search_event_then_recommendation(client, strategy):
    sent = client.post("/api/v1/events/", [{"user_id": "listener", "kind": "search", "query": "jazz saxophone club"}], format="json")
    assert sent.status_code == 200, sent.content

    response = _recommend(client, user_id="listener", n=3)

    assert response.status_code == 200
    assert any(item_id.startswith("jazz-") for item_id in _ids(response)), response.json()


def test_search_event_without_query_is_rejected(client, strategy):
    response = client.post("/api/v1/events/", [{"user_id": "listener", "kind": "search"}], format="json")

    assert response.status_code == 400
    [error] = response.json()["error"]["errors"]
    assert error["field"] == "query"
    assert error["reason"] == "A search event needs its query text (1 to 500 characters)."


def test_query_error_in_chinese(client, strategy):
    response = client.get("/api/v1/users/space-fan/recommendations/", {"q": ""}, HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "500" in _field_errors(response)["q"]


def test_search_event_with_long_query_is_rejected(client, strategy):
    response = client.post("/api/v1/events/", [{"user_id": "listener", "kind": "search", "query": "x" * (LIMIT + 1)}], format="json")

    assert response.status_code == 400
    [error] = response.json()["error"]["errors"]
    assert (error["field"], error["reason"]) == ("query", f"Longer than {LIMIT} characters.")


def test_search_blank_query_message(client, strategy):
    reason = _field_errors(_search(client, q=""))["q"]

    assert "1 and 500 characters" in reason
    assert "leave q out" not in reason


def test_search_unencoded_strategy_says_so(client, catalogue):
    from semrec.strategies.models import Strategy

    Strategy.objects.create(tenant=catalogue, name="fresh", is_default=True, scorer_id="content", intent_model_id="")

    response = _search(client, q="sushi and curry recipes", n=3)

    assert response.status_code == 200, response.content
    assert response.json()["items"] == []
    assert any("semrec_encode" in note for note in response.json()["notes"]), response.json()


def test_search_matching_query_has_no_note(client, strategy):
    response = _search(client, q="sushi and curry recipes", n=3)

    assert not any("No item is similar" in note for note in response.json()["notes"])
