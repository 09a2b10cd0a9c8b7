"""The encode job fits encoders that learn from item texts, stores the fit and encodes with it."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from semrec.catalog import ingest, validation
from semrec.catalog.models import Item, item_text
from semrec.strategies.models import Strategy
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import RunFailed, run_now
from semrec.vectors.models import EmbeddingSpace, ItemVector, UserVector
from semrec_lexical import LexicalEncoder

LEXICAL = {"dimension": 16, "max_features": 256, "min_df": 1}
CHINESE_ITEMS = [
    ("zh-space", "火箭发射升空", "宇航员乘坐火箭进入轨道，在空间站工作。", ["科幻"]),
    ("zh-cook", "番茄炒蛋", "一道简单的家常菜：番茄和鸡蛋一起炒。", ["烹饪"]),
    ("zh-jazz", "爵士乐之夜", "萨克斯手在俱乐部里即兴演奏爵士乐。", ["音乐"]),
]


def add_chinese_items(tenant) -> None:
    """Add three Chinese items, one per theme of the handmade catalogue."""
    rows = [
        {"id": item_id, "title": title, "description": description, "categories": categories, "language": "zh-Hans"}
        for item_id, title, description, categories in CHINESE_ITEMS
    ]
    clean, errors = validation.validate_items(rows, 100)
    assert not errors, errors.errors
    ingest.upsert_items(tenant, clean)


def create_lexical_strategy(tenant, name="lexical", **fields) -> Strategy:
    """Create a content strategy with a small lexical encoder; the tenant's first strategy is its default."""
    values = {"encoder_id": "lexical", "encoder_config": LEXICAL, "scorer_id": "content", "intent_model_id": "", **fields}
    is_default = not Strategy.objects.filter(tenant=tenant).exists()
    return Strategy.objects.create(tenant=tenant, name=name, is_default=is_default, **values)


def encoder_versions(strategy):
    return ModelVersion.objects.filter(strategy=strategy, plugin_id="lexical").order_by("pk")


def encode(strategy, **kwargs) -> dict:
    return run_now(strategy, TrainingRun.Kind.ENCODE, **kwargs).result


@pytest.fixture
def lexical(catalogue):
    add_chinese_items(catalogue)
    return create_lexical_strategy(catalogue)


def test_first_encode_fits_and_activates(lexical):
    result = encode(lexical)

    version = encoder_versions(lexical).get()
    items = Item.objects.filter(tenant=lexical.tenant).count()
    assert version.is_active
    assert version.role.startswith("encoder:lexical:")
    assert version.metrics["documents"] == items
    assert version.metrics["fit_seconds"] >= 0
    assert result["fitted"] is True
    assert result["model_version"] == version.pk
    assert result["fit"]["documents"] == items
    assert result["items_encoded"] == items


def test_fitted_vectors_in_space_of_version(lexical):
    result = encode(lexical)

    space = EmbeddingSpace.objects.get(pk=result["space"])
    assert space.encoder_id == "lexical"
    assert space.dimension == LEXICAL["dimension"]
    assert f"model version {result['model_version']}" in space.model_name
    assert ItemVector.objects.filter(space=space).count() == Item.objects.filter(tenant=lexical.tenant).count()
    assert UserVector.objects.filter(space=space).exists()


def test_vectors_come_from_stored_fit(lexical):
    result = encode(lexical)

    restored = LexicalEncoder(LEXICAL)
    restored.load(bytes(encoder_versions(lexical).get().artifact))
    item = Item.objects.get(tenant=lexical.tenant, external_id="zh-space")
    stored = ItemVector.objects.get(space_id=result["space"], item=item).embedding
    expected = restored.encode([_text(item)], languages=[item.language])[0]
    assert max(abs(float(a) - float(b)) for a, b in zip(stored, expected, strict=True)) < 1e-6


def _text(item) -> str:
    return item_text(item.title, item.description, item.tags, item.categories)


def test_second_encode_keeps_fit(lexical):
    first = encode(lexical)
    second = encode(lexical)

    assert encoder_versions(lexical).count() == 1
    assert second["fitted"] is False
    assert second["model_version"] == first["model_version"]
    assert second["space"] == first["space"]
    assert second["items_encoded"] == 0
    assert "fit" not in second


def test_changed_item_encoded_with_existing_fit(lexical):
    first = encode(lexical)
    item = Item.objects.get(tenant=lexical.tenant, external_id="cook-1")
    item.title = "Pasta night, remastered"
    item.save()

    result = encode(lexical)

    assert result["items_encoded"] == 1
    assert result["model_version"] == first["model_version"]
    assert encoder_versions(lexical).count() == 1


def test_force_refits_and_reencodes(lexical):
    first = encode(lexical)
    forced = encode(lexical, force=True)

    old, new = encoder_versions(lexical)
    assert (old.pk, new.pk) == (first["model_version"], forced["model_version"])
    assert not old.is_active
    assert new.is_active
    assert forced["fitted"] is True
    assert forced["space"] != first["space"]
    assert forced["items_encoded"] == Item.objects.filter(tenant=lexical.tenant).count()
    assert ItemVector.objects.filter(space_id=forced["space"]).count() == forced["items_encoded"]


def test_refit_keeps_old_space(lexical):
    first = encode(lexical)
    encode(lexical, force=True)

    # Kept, so that activating the old version again finds its vectors.
    assert ItemVector.objects.filter(space_id=first["space"]).count() == first["items_encoded"]


def test_strategies_with_same_config_get_own_fits(lexical):
    other = create_lexical_strategy(lexical.tenant, name="lexical-2")

    first, second = encode(lexical), encode(other)

    assert first["model_version"] != second["model_version"]
    assert first["space"] != second["space"]
    assert encoder_versions(other).get().is_active
    assert encoder_versions(lexical).get().is_active


def test_unloadable_version_refitted(lexical):
    first = encode(lexical)
    ModelVersion.objects.filter(pk=first["model_version"]).update(artifact=b"not a saved state")

    result = encode(lexical)

    assert result["fitted"] is True
    assert result["model_version"] != first["model_version"]
    assert ModelVersion.objects.get(pk=result["model_version"]).is_active


def test_failed_encode_discards_new_fit(lexical, monkeypatch):
    first = encode(lexical)

    def fail(self, texts, progress=None, languages=None):
        raise RuntimeError("encoding failed on purpose")

    monkeypatch.setattr(LexicalEncoder, "encode", fail)
    with pytest.raises(RunFailed, match="encoding failed on purpose"):
        encode(lexical, force=True)

    assert list(encoder_versions(lexical).values_list("pk", "is_active")) == [(first["model_version"], True)]
    assert list(EmbeddingSpace.objects.filter(tenant=lexical.tenant).values_list("pk", flat=True)) == [first["space"]]


def test_tenant_without_items_stays_unfitted(tenant):
    strategy = create_lexical_strategy(tenant)

    result = encode(strategy)

    assert result["items_encoded"] == 0
    assert result["model_version"] is None
    assert not ModelVersion.objects.filter(strategy=strategy).exists()


def test_invalid_encoder_config_fails_clearly(lexical):
    # Saving validates the configuration, so this writes past it as an old row would.
    Strategy.objects.filter(pk=lexical.pk).update(encoder_config={"dimension": 1})
    lexical.refresh_from_db()

    with pytest.raises(RunFailed) as raised:
        encode(lexical)

    message = str(raised.value)
    assert "lexical" in message
    assert "dimension" in message
    assert not ModelVersion.objects.filter(strategy=lexical).exists()
    assert not EmbeddingSpace.objects.filter(tenant=lexical.tenant).exists()


def test_invalid_encoder_config_rejected_on_save(catalogue):
    with pytest.raises(ValidationError, match="max_features"):
        create_lexical_strategy(catalogue, encoder_config={"dimension": 16, "max_features": 4})


def test_fit_on_too_few_terms_fails_clearly(lexical):
    Strategy.objects.filter(pk=lexical.pk).update(encoder_config={**LEXICAL, "min_df": 1000})
    lexical.refresh_from_db()

    with pytest.raises(RunFailed) as raised:
        encode(lexical)

    message = str(raised.value)
    assert "could not be fitted" in message
    assert "min_df=1000" in message
    assert "lower min_df" in message
    run = TrainingRun.objects.get(strategy=lexical)
    assert run.status == TrainingRun.Status.FAILED
    assert not ModelVersion.objects.filter(strategy=lexical).exists()
    assert not EmbeddingSpace.objects.filter(tenant=lexical.tenant).exists()


def test_fit_reported_as_stage(lexical):
    stages = []

    run_now(lexical, TrainingRun.Kind.ENCODE, lambda stage, done, total: stages.append((stage, done, total)))

    items = Item.objects.filter(tenant=lexical.tenant).count()
    assert ("fit lexical", items, items) in stages
    names = list(dict.fromkeys(stage for stage, _, _ in stages))
    assert names.index("fit lexical") < names.index("encode items")


def test_train_leaves_encoder_alone(lexical):
    encode(lexical)
    version = encoder_versions(lexical).get()

    output = _command("semrec_train", "--tenant", lexical.tenant.slug, "--strategy", lexical.name)

    assert "no trainable plugins" in output
    assert list(encoder_versions(lexical)) == [version]


def test_train_intent_model_on_fitted_space(lexical):
    Strategy.objects.filter(pk=lexical.pk).update(scorer_id="hybrid", intent_model_id="softmax", intent_model_config={"min_examples": 10})
    lexical.refresh_from_db()
    encode(lexical)

    trained = run_now(lexical, TrainingRun.Kind.TRAIN).result

    roles = {entry["role"].split(":")[1] for entry in trained["trained"]}
    assert roles == {"collaborative", "softmax"}
    assert trained["skipped"] == []
    assert encoder_versions(lexical).count() == 1


def _command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), verbosity=0)
    return out.getvalue()


def test_encode_command_output(lexical):
    items = Item.objects.filter(tenant=lexical.tenant).count()

    first = _command("semrec_encode", "--tenant", lexical.tenant.slug)
    second = _command("semrec_encode", "--tenant", lexical.tenant.slug)
    forced = _command("semrec_encode", "--tenant", lexical.tenant.slug, "--force")

    assert f"Encoded {items} items" in first
    assert "Encoded 0 items" in second
    assert f"Encoded {items} items" in forced
    assert encoder_versions(lexical).count() == 2
