"""The recommendation pipeline on the handmade catalogue, with the real encoder."""

import pytest

from semrec.catalog.models import User
from semrec.recommend.models import Recommendation
from semrec.recommend.service import recommend_for_user, similar_items
from semrec.strategies.models import Strategy

from .helpers import get_user, result_ids, send_events


@pytest.fixture
def content_strategy(strategy):
    return Strategy.objects.create(tenant=strategy.tenant, name="content", scorer_id="content")


@pytest.fixture
def popularity_strategy(strategy):
    return Strategy.objects.create(tenant=strategy.tenant, name="popularity", scorer_id="popularity")


def test_content_follows_history_theme(content_strategy):
    result = recommend_for_user(content_strategy.tenant, get_user(content_strategy.tenant, "space-fan"), n=3, strategy_name="content")
    assert result_ids(result), result.notes
    assert all(item_id.startswith("space-") for item_id in result_ids(result)), result_ids(result)


def test_seen_items_excluded(strategy):
    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "space-fan"), n=10)
    assert not {"space-1", "space-2", "space-3"} & set(result_ids(result))


def test_seen_items_allowed_when_asked(content_strategy):
    result = recommend_for_user(
        content_strategy.tenant, get_user(content_strategy.tenant, "space-fan"), n=3, exclude_seen=False, strategy_name="content"
    )
    assert {"space-1", "space-2", "space-3"} & set(result_ids(result))


def test_hybrid_differs_from_popularity(strategy, popularity_strategy):
    user = get_user(strategy.tenant, "space-fan")
    hybrid = recommend_for_user(strategy.tenant, user, n=5)
    popular = recommend_for_user(strategy.tenant, user, n=5, strategy_name="popularity")
    assert not hybrid.fell_back
    assert result_ids(hybrid) != result_ids(popular)
    assert result_ids(hybrid)[0].startswith("space-")
    assert result_ids(popular)[0].startswith("cook-")


def test_explanations_cite_history(strategy):
    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "space-fan"), n=3, explain=True)
    cited = {entry["id"] for row in result.items for entry in row["explanation"].get("because", [])}
    assert cited
    assert cited <= {"space-1", "space-2", "space-3"}


def test_cold_user_gets_popular_from_hybrid(strategy):
    newcomer = User.objects.create(tenant=strategy.tenant, external_id="newcomer")
    result = recommend_for_user(strategy.tenant, newcomer, n=3)
    assert not result.fell_back
    assert result_ids(result)[0] == "cook-1"


def test_cold_user_content_falls_back(content_strategy):
    newcomer = User.objects.create(tenant=content_strategy.tenant, external_id="newcomer")
    result = recommend_for_user(content_strategy.tenant, newcomer, n=3, strategy_name="content")
    assert result.fell_back
    assert result.notes
    assert result_ids(result)[0] == "cook-1"


def test_missing_plugin_falls_back(strategy):
    # bulk_create skips save(), as a plugin uninstalled after saving would.
    Strategy.objects.bulk_create([Strategy(tenant=strategy.tenant, name="broken", scorer_id="not-installed")])
    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "space-fan"), n=3, strategy_name="broken")
    assert result.fell_back
    assert "not-installed" in " ".join(result.notes)
    assert len(result.items) == 3


def test_failing_scorer_falls_back(strategy, monkeypatch):
    from semrec_content import ContentScorer

    def explode(self, context, k):
        raise RuntimeError("boom")

    monkeypatch.setattr(ContentScorer, "score", explode)
    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "space-fan"), n=3)
    assert result.fell_back
    assert "boom" in " ".join(result.notes)


def test_new_event_changes_next_list(content_strategy):
    tenant = content_strategy.tenant
    user = get_user(tenant, "cook")
    before = recommend_for_user(tenant, user, n=3, strategy_name="content")
    send_events(tenant, [{"user_id": "cook", "item_id": item, "kind": "purchase"} for item in ("jazz-1", "jazz-2", "jazz-3")])
    after = recommend_for_user(tenant, user, n=3, strategy_name="content")
    assert "jazz-4" not in result_ids(before)
    assert result_ids(after)[0] == "jazz-4"


def test_new_event_changes_hybrid_list(strategy):
    user = get_user(strategy.tenant, "cook")
    before = recommend_for_user(strategy.tenant, user, n=5)
    send_events(strategy.tenant, [{"user_id": "cook", "item_id": item, "kind": "purchase"} for item in ("jazz-1", "jazz-2", "jazz-3")])
    after = recommend_for_user(strategy.tenant, user, n=5)
    assert result_ids(before) != result_ids(after)


def test_served_list_is_logged(strategy):
    result = recommend_for_user(strategy.tenant, get_user(strategy.tenant, "space-fan"), n=3)
    logged = Recommendation.objects.get(pk=result.id)
    assert logged.items == result_ids(result)
    assert logged.strategy == strategy


def test_similar_items_share_theme(strategy):
    item = strategy.tenant.items.get(external_id="cook-3")
    result = similar_items(strategy.tenant, item, n=3)
    assert "cook-3" not in result_ids(result)
    assert all(item_id.startswith("cook-") for item_id in result_ids(result)), result_ids(result)


def test_items_beyond_history_limit_stay_excluded(content_strategy):
    content_strategy.options = {"history_limit": 1}
    content_strategy.save()
    result = recommend_for_user(content_strategy.tenant, get_user(content_strategy.tenant, "space-fan"), n=16, strategy_name="content")
    assert not {"space-1", "space-2", "space-3"} & set(result_ids(result))
