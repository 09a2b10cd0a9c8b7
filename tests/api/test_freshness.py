"""Items saved and events sent through the API take effect without a full encode or training run."""

import pytest

from semrec.strategies.models import Strategy
from semrec.training import freshness
from semrec.training.models import TrainingRun
from semrec.vectors.models import ItemVector

NEW_ITEM = {"id": "space-7", "title": "Comet Chaser", "description": "A probe chases a comet past Jupiter.", "categories": ["Sci-Fi"]}


def _post_items(client, rows, capture):
    """POST items and run what their transaction's commit triggers, as a real request's commit would."""
    with capture(execute=True):
        response = client.post("/api/v1/items/", rows, format="json")
    assert response.status_code == 200, response.content
    return response


def _vector(strategy, external_id):
    return ItemVector.objects.filter(item__tenant=strategy.tenant, item__external_id=external_id).first()


def test_new_item_encoded_on_save(client, strategy, django_capture_on_commit_callbacks):
    assert client.get(f"/api/v1/items/{NEW_ITEM['id']}/similar/").status_code == 404

    _post_items(client, [NEW_ITEM], django_capture_on_commit_callbacks)

    assert _vector(strategy, "space-7") is not None
    response = client.get("/api/v1/items/space-7/similar/", {"n": 3})
    assert response.status_code == 200
    assert all(item["id"].startswith("space-") for item in response.json()["items"])
    assert not TrainingRun.objects.filter(strategy=strategy).exclude(status=TrainingRun.Status.SUCCEEDED).exists()


def test_changed_item_encoded_again(client, strategy, django_capture_on_commit_callbacks):
    before = _vector(strategy, "jazz-1")
    changed = {"id": "jazz-1", "title": "Blue Saxophone", "description": "A saxophone quartet plays cool jazz.", "categories": ["Music"]}

    _post_items(client, [changed], django_capture_on_commit_callbacks)

    after = _vector(strategy, "jazz-1")
    assert after.text_hash != before.text_hash
    assert after.text_hash == after.item.text_hash
    assert ItemVector.objects.filter(item__tenant=strategy.tenant).count() == ItemVector.objects.filter(
        item__tenant=strategy.tenant
    ).values("item").distinct().count()


def test_unchanged_item_not_encoded(client, strategy, django_capture_on_commit_callbacks):
    before = _vector(strategy, "cook-1")
    unchanged = {"id": "cook-1", "title": "Pasta Night", "description": "Cooking fresh pasta with tomato sauce and basil.", "categories": ["Cooking"]}

    _post_items(client, [unchanged], django_capture_on_commit_callbacks)

    assert _vector(strategy, "cook-1").encoded_at == before.encoded_at


def test_tenant_without_space_not_encoded(client, tenant, django_capture_on_commit_callbacks):
    Strategy.objects.create(tenant=tenant, name="default", is_default=True)

    _post_items(client, [NEW_ITEM], django_capture_on_commit_callbacks)

    assert not ItemVector.objects.filter(item__tenant=tenant).exists()


def test_encode_on_save_disabled(client, strategy, settings, django_capture_on_commit_callbacks):
    settings.SEMREC_ENCODE_ON_SAVE = False

    _post_items(client, [NEW_ITEM], django_capture_on_commit_callbacks)

    assert _vector(strategy, "space-7") is None


def test_batch_sends_one_task(client, tenant, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent = []
    monkeypatch.setattr(freshness.encode_changed_items_task, "delay", lambda *args: sent.append(args))
    rows = [{"id": f"bulk-{i}", "title": f"Bulk item {i}"} for i in range(2000)]

    _post_items(client, rows, django_capture_on_commit_callbacks)

    assert len(sent) == 1
    tenant_id, item_pks = sent[0]
    assert tenant_id == tenant.pk
    assert len(set(item_pks)) == 2000


def test_failed_inline_encode_keeps_items(client, strategy, django_capture_on_commit_callbacks, caplog):
    Strategy.objects.filter(pk=strategy.pk).update(encoder_config={"batch_size": 0})

    response = _post_items(client, [NEW_ITEM], django_capture_on_commit_callbacks)

    assert response.json()["created"] == 1
    assert _vector(strategy, "space-7") is None
    assert "saved items not encoded" in caplog.text


@pytest.mark.parametrize("kind", ["view", "purchase"])
def test_event_changes_next_recommendation(client, strategy, kind):
    # Content scoring alone, so the change comes from the user vector built at request time, not from retraining.
    Strategy.objects.create(tenant=strategy.tenant, name="content", scorer_id="content")

    def recommend():
        response = client.get("/api/v1/users/fresh-user/recommendations/", {"n": 2, "strategy": "content"})
        assert response.status_code == 200
        return response.json()

    assert client.post("/api/v1/users/", [{"id": "fresh-user"}], format="json").status_code == 200
    before = recommend()
    events = [
        {"user_id": "fresh-user", "item_id": item_id, "kind": kind, "idempotency_key": f"fresh-{kind}-{item_id}"}
        for item_id in ("jazz-1", "jazz-2")
    ]
    assert client.post("/api/v1/events/", events, format="json").status_code == 200
    after = recommend()

    assert {item["id"] for item in before["items"]} != {"jazz-3", "jazz-4"}
    assert after["fell_back"] is False
    assert {item["id"] for item in after["items"]} == {"jazz-3", "jazz-4"}
