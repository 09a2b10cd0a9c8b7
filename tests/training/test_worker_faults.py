"""Real Celery workers that die mid-task or run a failing plugin.

The fixtures in this folder's conftest start ``celery worker`` processes on
the Redis database of ``SEMREC_TEST_REDIS_URL`` and skip the tests without one.
"""

import time

import pytest
from django.db.models import Count

from semrec.catalog import ingest, validation
from semrec.catalog.models import Item
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import enqueue
from semrec.vectors.models import ItemVector

from .conftest import wait_for

ITEM_COUNT = 300
WORDS = ["rocket", "pasta", "jazz", "garden", "river", "castle", "robot", "violin", "desert", "harbour"]

# One item per transaction and one text per forward pass, so the encode is
# slow enough to be killed halfway and every finished item is committed.
SLOW_ENCODE = {"SEMREC_ENCODE_CHUNK": "5", "SEMREC_BROKER_VISIBILITY_TIMEOUT": "2"}


def _load_generated_items(tenant, count: int) -> None:
    rows = [
        {
            "id": f"item-{i}",
            "title": f"{WORDS[i % 10].title()} {WORDS[(i // 10) % 10]} {i}",
            "description": f"A story about a {WORDS[(i * 7) % 10]} and a {WORDS[(i * 3) % 10]}, number {i}.",
            "categories": [WORDS[i % 10]],
        }
        for i in range(count)
    ]
    clean, errors = validation.validate_items(rows, 10_000)
    assert not errors, errors.errors
    ingest.upsert_items(tenant, clean)


def _vector_count(tenant) -> int:
    return ItemVector.objects.filter(item__tenant=tenant).count()


def _wait_for_partial_encode(tenant, worker, timeout: float = 120.0) -> int:
    """Wait until some but not all items have a committed vector; return how many."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = _vector_count(tenant)
        if 0 < count < ITEM_COUNT:
            return count
        assert count < ITEM_COUNT, "the encode finished before the worker could be killed; slow it down further"
        time.sleep(0.02)
    pytest.fail(f"no item vector was committed within {timeout}s; worker log:\n{worker.output()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_killed_worker_encode_resumes(start_worker):
    tenant = Tenant.objects.create(slug="killed", name="Killed worker")
    _load_generated_items(tenant, ITEM_COUNT)
    strategy = Strategy.objects.create(tenant=tenant, name="slow", is_default=True, encoder_config={"batch_size": 1})

    first = start_worker(**SLOW_ENCODE)
    run = enqueue(strategy, TrainingRun.Kind.ENCODE)
    committed = _wait_for_partial_encode(tenant, first)
    first.kill()
    after_kill = _vector_count(tenant)
    assert after_kill >= committed
    assert after_kill < ITEM_COUNT

    # The broker sends the unacknowledged task again once its visibility timeout passes.
    second = start_worker(**SLOW_ENCODE)
    run = wait_for(run, second)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.result["items_encoded"] == ITEM_COUNT - after_kill
    assert _vector_count(tenant) == ITEM_COUNT

    per_item = ItemVector.objects.filter(item__tenant=tenant).values("item").annotate(n=Count("id"))
    assert {row["n"] for row in per_item} == {1}
    current = dict(Item.objects.filter(tenant=tenant).values_list("id", "text_hash"))
    stored = dict(ItemVector.objects.filter(item__tenant=tenant).values_list("item_id", "text_hash"))
    assert stored == current

    again = wait_for(enqueue(strategy, TrainingRun.Kind.ENCODE), second)
    assert again.status == TrainingRun.Status.SUCCEEDED, again.error
    assert again.result["items_encoded"] == 0
    assert _vector_count(tenant) == ITEM_COUNT


@pytest.mark.django_db(transaction=True)
def test_failing_plugin_fails_run(worker, tmp_path):
    tenant = Tenant.objects.create(slug="broken", name="Broken plugin")
    _load_generated_items(tenant, 10)
    empty_model = tmp_path / "empty-model"
    empty_model.mkdir()
    broken = Strategy.objects.create(tenant=tenant, name="broken", is_default=True, encoder_config={"model": str(empty_model)})
    # Saving validates the encoder id, so uninstall it the way a removed package would: after the save.
    missing = Strategy.objects.create(tenant=tenant, name="missing")
    Strategy.objects.filter(pk=missing.pk).update(encoder_id="no-such-encoder")
    missing.refresh_from_db()

    broken_run = wait_for(enqueue(broken, TrainingRun.Kind.ENCODE), worker)
    missing_run = wait_for(enqueue(missing, TrainingRun.Kind.ENCODE), worker)

    assert broken_run.status == TrainingRun.Status.FAILED
    assert str(empty_model) in broken_run.error
    assert missing_run.status == TrainingRun.Status.FAILED
    assert missing_run.error.startswith("PluginNotInstalled: ")
    assert "no-such-encoder" in missing_run.error
    assert _vector_count(tenant) == 0
    assert "Retry in" not in worker.output()
