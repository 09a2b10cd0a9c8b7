"""Serving a strategy whose encoder fits on item texts: its active fit, its space and its query vectors."""

from datetime import datetime, timezone

import numpy as np
import pytest

from semrec.catalog import ingest, validation
from semrec.catalog.models import User
from semrec.recommend.queries import clear_query_cache, query_vectors
from semrec.recommend.runtime import get_runtime
from semrec.recommend.service import recommend_for_user
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import run_now

from ..training.test_encoder_fitting import add_chinese_items, create_lexical_strategy


@pytest.fixture(autouse=True)
def _fresh_query_cache(settings):
    """Query vectors are cached per process; re-check active versions on every request."""
    settings.SEMREC_RUNTIME_REFRESH_SECONDS = 0
    clear_query_cache()
    yield
    clear_query_cache()


@pytest.fixture
def lexical(catalogue):
    add_chinese_items(catalogue)
    strategy = create_lexical_strategy(catalogue)
    run_now(strategy, TrainingRun.Kind.ENCODE)
    return strategy


def _encode(strategy, **kwargs) -> dict:
    return run_now(strategy, TrainingRun.Kind.ENCODE, **kwargs).result


def _active_fit(strategy) -> ModelVersion:
    return ModelVersion.objects.get(strategy=strategy, plugin_id="lexical", is_active=True)


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


def test_runtime_loads_active_fit(lexical):
    runtime = get_runtime(lexical)

    encoder = runtime.plugins.encoder
    version = _active_fit(lexical)
    assert encoder.is_fitted
    assert encoder.model_version_id == version.pk
    assert version.pk in runtime.versions
    assert "lexical" not in runtime.untrained


def test_runtime_finds_space_of_fit(lexical):
    result = _encode(lexical)

    assert get_runtime(lexical).space.pk == result["space"]


def test_runtime_without_fit_is_unfitted(catalogue):
    strategy = create_lexical_strategy(catalogue)

    runtime = get_runtime(strategy)

    assert not runtime.plugins.encoder.is_fitted
    assert runtime.untrained == ["lexical"]
    assert runtime.space is None


def test_runtime_follows_refit(lexical):
    before = get_runtime(lexical)
    refit = _encode(lexical, force=True)

    after = get_runtime(lexical)

    assert after is not before
    assert after.plugins.encoder.model_version_id == refit["model_version"]
    assert after.space.pk == refit["space"]


def test_chinese_query_finds_chinese_item(client, lexical):
    response = client.get("/api/v1/search/", {"q": "宇航员和火箭", "n": 3})

    assert response.status_code == 200, response.content
    assert _ids(response)[0] == "zh-space", _ids(response)
    assert response.json()["fell_back"] is False


def test_english_query_finds_english_items(client, lexical):
    response = client.get("/api/v1/search/", {"q": "sushi and curry recipes", "n": 3})

    assert response.status_code == 200, response.content
    assert all(item_id.startswith("cook-") for item_id in _ids(response)), _ids(response)


def test_query_steers_recommendations(client, lexical):
    response = client.get("/api/v1/users/cook/recommendations/", {"q": "萨克斯手 爵士乐", "n": 3})

    assert response.status_code == 200, response.content
    assert "zh-jazz" in _ids(response), _ids(response)


def test_recommendations_without_query(client, lexical):
    response = client.get("/api/v1/users/space-fan/recommendations/", {"n": 3})

    body = response.json()
    assert response.status_code == 200, response.content
    assert body["fell_back"] is False, body["notes"]
    assert all(item_id.startswith("space-") for item_id in _ids(response)), _ids(response)


def test_similar_items_in_fitted_space(client, lexical):
    response = client.get("/api/v1/items/space-1/similar/", {"n": 3})

    assert response.status_code == 200, response.content
    assert _ids(response)[0].startswith("space-"), _ids(response)


def test_chinese_search_event_steers_newcomer(lexical):
    events = [{"user_id": "reader", "kind": "search", "query": "番茄 鸡蛋 家常菜"}]
    clean, errors = validation.validate_events(events, 100, datetime.now(timezone.utc))
    item_pks = ingest.resolve_event_references(lexical.tenant, clean, errors)
    assert not errors, errors.errors
    ingest.insert_events(lexical.tenant, clean, item_pks)

    result = recommend_for_user(lexical.tenant, User.objects.get(tenant=lexical.tenant, external_id="reader"), n=3)

    assert not result.fell_back, result.notes
    assert [row["id"] for row in result.items][0] == "zh-cook"


def test_query_vector_comes_from_fit(lexical):
    encoder = get_runtime(lexical).plugins.encoder

    served = query_vectors(encoder, ["火箭"])["火箭"]

    unfitted = create_lexical_strategy(lexical.tenant, name="unfitted")
    plain = get_runtime(unfitted).plugins.encoder.encode_queries(["火箭"])[0]
    np.testing.assert_allclose(served, encoder.encode_queries(["火箭"])[0], atol=1e-6)
    assert not np.allclose(served, plain, atol=1e-3)


def test_refit_bypasses_cached_query_vectors(lexical):
    before = query_vectors(get_runtime(lexical).plugins.encoder, ["火箭"])["火箭"]
    # A new item changes the fitted weights, so the refit encodes the query differently.
    add_more = [{"id": "zh-space-2", "title": "火箭回收", "description": "火箭在海上平台着陆。", "language": "zh-Hans"}]
    clean, errors = validation.validate_items(add_more, 100)
    assert not errors, errors.errors
    ingest.upsert_items(lexical.tenant, clean)
    _encode(lexical, force=True)

    encoder = get_runtime(lexical).plugins.encoder
    after = query_vectors(encoder, ["火箭"])["火箭"]

    np.testing.assert_allclose(after, encoder.encode_queries(["火箭"])[0], atol=1e-6)
    assert not np.allclose(after, before, atol=1e-4)
