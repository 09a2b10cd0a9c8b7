"""A strategy keeps serving its old space until the encode of its new encoder completes, then switches."""

import pytest

from semrec.catalog import ingest, validation
from semrec.catalog.models import Item, User
from semrec.recommend.runtime import get_runtime
from semrec.recommend.service import recommend_for_user, search_items, similar_items
from semrec.strategies.models import Strategy
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import run_now
from semrec.training.jobs import encode_saved_items, tenants_with_stale_items
from semrec.training.versions import queue_pending_switches, rollback
from semrec.vectors import search
from semrec.vectors.models import EmbeddingSpace, ItemVector

LEXICAL = {"dimension": 16, "max_features": 256, "min_df": 1}


@pytest.fixture(autouse=True)
def _refresh_every_request(settings):
    settings.SEMREC_RUNTIME_REFRESH_SECONDS = 0


@pytest.fixture
def content(catalogue):
    """A content strategy on the default transformers encoder, encoded."""
    strategy = Strategy.objects.create(tenant=catalogue, name="content", is_default=True, scorer_id="content", intent_model_id="")
    run_now(strategy, TrainingRun.Kind.ENCODE)
    strategy.refresh_from_db()
    return strategy


def switch_to_lexical(strategy) -> Strategy:
    strategy.refresh_from_db()
    strategy.encoder_id, strategy.encoder_config = "lexical", LEXICAL
    strategy.save()
    return strategy


def similar(tenant, external_id: str) -> list[tuple[str, float]]:
    item = Item.objects.get(tenant=tenant, external_id=external_id)
    return [(row["id"], row["score"]) for row in similar_items(tenant, item, n=4).items]


def nearest_in(space, tenant, external_id: str) -> list[tuple[str, float]]:
    """Return the neighbours of an item computed straight from one space's vectors, rounded like the API."""
    item = Item.objects.get(tenant=tenant, external_id=external_id)
    vector = search.item_vectors(space, [item.pk])[item.pk]
    pairs = search.nearest_items(space, vector, 4, [item.pk])
    external = dict(Item.objects.filter(pk__in=[pk for pk, _ in pairs]).values_list("pk", "external_id"))
    return [(external[pk], round(similarity, 6)) for pk, similarity in pairs]


def recommended(tenant, external_id: str) -> list[str]:
    user = User.objects.get(tenant=tenant, external_id=external_id)
    return [row["id"] for row in recommend_for_user(tenant, user, n=5).items]


def searched(tenant, query: str) -> list[str]:
    return [row["id"] for row in search_items(tenant, query, n=5).items]


def test_encode_completes_and_points_strategy(content):
    space = content.serving_space
    assert space is not None
    assert space.is_complete
    assert space.encoder_id == "transformers"
    assert ItemVector.objects.filter(space=space).count() == Item.objects.filter(tenant=content.tenant).count()


def test_vectors_record_encoder_and_model(content):
    runtime = get_runtime(content)
    vector = ItemVector.objects.filter(space=runtime.space).select_related("space").first()
    assert vector.space.encoder_id == "transformers"
    assert vector.space.model_name == runtime.space_encoder.model_name
    assert vector.space.model_version is None

    switch_to_lexical(content)
    run_now(content, TrainingRun.Kind.ENCODE)
    fit = ModelVersion.objects.get(strategy=content, plugin_id="lexical", is_active=True)
    vector = ItemVector.objects.filter(space=get_runtime(content).space).select_related("space").first()
    assert vector.space.encoder_id == "lexical"
    assert vector.space.encoder_config["dimension"] == 16
    assert vector.space.model_version_id == fit.pk
    assert f"model version {fit.pk}" in vector.space.model_name


def test_old_space_serves_until_new_complete(content):
    tenant = content.tenant
    space_a = content.serving_space
    before = {
        "similar": similar(tenant, "space-1"),
        "recommended": recommended(tenant, "space-fan"),
        "searched": searched(tenant, "rocket launch"),
    }
    assert before["similar"] == nearest_in(space_a, tenant, "space-1")

    switch_to_lexical(content)
    runtime = get_runtime(Strategy.objects.get(pk=content.pk))
    assert runtime.space.pk == space_a.pk
    assert runtime.space_encoder.id == "transformers"
    assert runtime.plugins.encoder.id == "lexical"
    assert similar(tenant, "space-1") == before["similar"]
    assert recommended(tenant, "space-fan") == before["recommended"]
    assert searched(tenant, "rocket launch") == before["searched"]

    # Look at serving while the encode run is between encoding items and finishing.
    during = {}

    def watch(stage: str, done: int, total: int) -> None:
        if stage == "rebuild user vectors" and not during:
            new_space = EmbeddingSpace.objects.filter(tenant=tenant, encoder_id="lexical").get()
            during.update(
                new_space=new_space,
                new_vectors=ItemVector.objects.filter(space=new_space).count(),
                serving=get_runtime(Strategy.objects.get(pk=content.pk)).space.pk,
                similar=similar(tenant, "space-1"),
                searched=searched(tenant, "rocket launch"),
            )

    run = run_now(Strategy.objects.get(pk=content.pk), TrainingRun.Kind.ENCODE, progress_callback=watch)

    assert during["new_vectors"] == Item.objects.filter(tenant=tenant).count()
    assert not during["new_space"].is_complete
    assert during["serving"] == space_a.pk
    assert during["similar"] == before["similar"]
    assert during["searched"] == before["searched"]

    content.refresh_from_db()
    space_b = EmbeddingSpace.objects.get(pk=run.result["space"])
    runtime = get_runtime(content)
    assert content.serving_space_id == space_b.pk
    assert space_b.is_complete
    assert runtime.space.pk == space_b.pk
    assert runtime.space_encoder is runtime.plugins.encoder
    after = similar(tenant, "space-1")
    assert after == nearest_in(space_b, tenant, "space-1")
    assert after != before["similar"]


def test_saved_items_reach_serving_space_during_switch(content, django_capture_on_commit_callbacks):
    space_a = content.serving_space
    switch_to_lexical(content)
    rows, errors = validation.validate_items([{"id": "space-7", "title": "Mars Rover", "description": "A rover drives on Mars."}], 10)
    assert not errors

    with django_capture_on_commit_callbacks(execute=True):
        ingest.upsert_items(content.tenant, rows)

    item = Item.objects.get(tenant=content.tenant, external_id="space-7")
    assert ItemVector.objects.filter(space=space_a, item=item, text_hash=item.text_hash).exists()
    assert similar(content.tenant, "space-7")


def test_unchanged_encoder_keeps_space(content):
    space_a = content.serving_space
    content.scorer_id = "hybrid"
    content.save()
    runtime = get_runtime(Strategy.objects.get(pk=content.pk))
    assert runtime.space.pk == space_a.pk
    assert runtime.space_encoder is runtime.plugins.encoder
    assert not TrainingRun.objects.filter(strategy=content, status=TrainingRun.Status.QUEUED).exists()


def test_switch_back_to_complete_space_is_immediate(content):
    space_a = content.serving_space
    switch_to_lexical(content)
    run_now(content, TrainingRun.Kind.ENCODE)
    content.refresh_from_db()
    assert content.serving_space_id != space_a.pk

    content.encoder_id, content.encoder_config = "transformers", {}
    content.save()

    runtime = get_runtime(Strategy.objects.get(pk=content.pk))
    assert runtime.space.pk == space_a.pk
    assert runtime.space_encoder.id == "transformers"


def test_reactivated_fit_serves_its_space(content):
    switch_to_lexical(content)
    first = run_now(content, TrainingRun.Kind.ENCODE).result
    second = run_now(Strategy.objects.get(pk=content.pk), TrainingRun.Kind.ENCODE, force=True).result
    assert get_runtime(Strategy.objects.get(pk=content.pk)).space.pk == second["space"]

    version = rollback(content, ModelVersion.objects.get(pk=first["model_version"]).role)

    runtime = get_runtime(Strategy.objects.get(pk=content.pk))
    assert version.pk == first["model_version"]
    assert runtime.space.pk == first["space"]
    assert runtime.space_encoder.model_version_id == first["model_version"]
    assert similar(content.tenant, "space-1") == nearest_in(runtime.space, content.tenant, "space-1")


def test_unbuildable_old_encoder_serves_target(content):
    # A space whose encoder cannot be rebuilt any more cannot encode queries, so serving moves to the new target.
    EmbeddingSpace.objects.filter(pk=content.serving_space_id).update(encoder_id="no-such-encoder")
    switch_to_lexical(content)
    runtime = get_runtime(Strategy.objects.get(pk=content.pk))
    assert runtime.space is None
    assert runtime.space_encoder.id == "lexical"


def test_change_during_encode_keeps_pointer(content):
    space_a = content.serving_space
    switch_to_lexical(content)

    def change_back(stage: str, done: int, total: int) -> None:
        if stage == "rebuild user vectors":
            Strategy.objects.filter(pk=content.pk).update(encoder_id="transformers", encoder_config={})

    run = run_now(Strategy.objects.get(pk=content.pk), TrainingRun.Kind.ENCODE, progress_callback=change_back)

    content.refresh_from_db()
    assert EmbeddingSpace.objects.get(pk=run.result["space"]).is_complete
    assert content.serving_space_id == space_a.pk
    assert get_runtime(content).space.pk == space_a.pk


def test_pending_switch_is_queued_once(content):
    # Without a broker, enqueue runs the encode in this process.
    switch_to_lexical(content)

    runs = queue_pending_switches()

    content.refresh_from_db()
    assert [run.strategy_id for run in runs] == [content.pk]
    assert runs[0].status == TrainingRun.Status.SUCCEEDED
    assert content.serving_space.encoder_id == "lexical"
    assert queue_pending_switches() == []


def test_stale_items_found_and_encoded(content, settings):
    settings.SEMREC_ENCODE_ON_SAVE = False
    assert tenants_with_stale_items() == []
    rows, errors = validation.validate_items([{"id": "space-7", "title": "Mars Rover", "description": "A rover drives on Mars."}], 10)
    assert not errors
    ingest.upsert_items(content.tenant, rows)

    assert tenants_with_stale_items() == [content.tenant.pk]
    result = encode_saved_items(content.tenant, None)

    assert result["items_encoded"] == {content.serving_space_id: 1}
    assert tenants_with_stale_items() == []


@pytest.fixture
def trained_intent(catalogue):
    """A content strategy with the default softmax intent model, which trains, encoded."""
    strategy = Strategy.objects.create(tenant=catalogue, name="with-intent", is_default=True, scorer_id="content")
    run_now(strategy, TrainingRun.Kind.ENCODE)
    strategy.refresh_from_db()
    return strategy


def test_switch_queues_retrain_with_broker(trained_intent, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    switch_to_lexical(trained_intent)

    run = run_now(trained_intent, TrainingRun.Kind.ENCODE)

    queued = TrainingRun.objects.filter(strategy=trained_intent, kind=TrainingRun.Kind.TRAIN)
    assert run.result["retrain_run"] == queued.get().pk
    assert queued.get().status == TrainingRun.Status.QUEUED


def test_switch_without_broker_only_logs(trained_intent, caplog):
    switch_to_lexical(trained_intent)

    run = run_now(trained_intent, TrainingRun.Kind.ENCODE)

    assert run.result["retrain_run"] is None
    assert not TrainingRun.objects.filter(strategy=trained_intent, kind=TrainingRun.Kind.TRAIN).exists()
    assert "train it again" in caplog.text


def test_first_encode_queues_no_retrain(trained_intent):
    run = TrainingRun.objects.get(strategy=trained_intent, kind=TrainingRun.Kind.ENCODE)

    assert "retrain_run" not in run.result
