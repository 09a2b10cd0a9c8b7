"""Item languages: tag normalisation, detection from the script, validation and storage."""

import pytest
from django.core.exceptions import ValidationError

from semrec.catalog import ingest
from semrec.catalog.language import InvalidLanguageTag, detect_language, normalise_language_tag
from semrec.catalog.models import Item, item_text, text_hash
from semrec.catalog.validation import validate_items


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("zh-hans", "zh-Hans"),
        ("ZH_hant_tw", "zh-Hant-TW"),
        ("en", "en"),
        ("pt-br", "pt-BR"),
        ("es-419", "es-419"),
        (" ja ", "ja"),
        ("", ""),
    ],
)
def test_tag_normalised(raw, tag):
    assert normalise_language_tag(raw) == tag


@pytest.mark.parametrize("raw", ["chinese", "z", "zh--Hans", "zh-Hans!", "中文", "x" * 40, "zh\x00"])
def test_invalid_tag_rejected(raw):
    with pytest.raises(InvalidLanguageTag):
        normalise_language_tag(raw)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("伊麗莎白女王和查爾斯王子", "zh"),
        ("星际穿越是一部科幻电影", "zh"),
        ("在DEA的回收日丟棄不需要的處方藥物", "zh"),
        ("東京タワーの夜景", "ja"),
        ("서울의 봄 영화", "ko"),
        ("A rocket launches to orbit", ""),
        ("Новости спорта", ""),
        ("2019 · 123", ""),
        ("", ""),
    ],
)
def test_language_detected_from_script(text, language):
    assert detect_language(text) == language


def test_mostly_latin_text_with_one_han_character_unknown():
    assert detect_language("The word for king is 王 in Chinese texts") == ""


def item_row(**fields):
    row = {"id": "n1", "title": "火箭发射升空"}
    row.update(fields)
    return row


def test_declared_language_normalised_in_batch():
    clean, errors = validate_items([item_row(language="zh-hant")], max_rows=10)
    assert not errors
    assert clean[0]["language"] == "zh-Hant"


@pytest.mark.parametrize("value", ["chinese", 7, "zh_Hans!"])
def test_invalid_language_rejected_in_batch(value):
    _clean, errors = validate_items([item_row(language=value)], max_rows=10)
    assert errors.errors[0]["field"] == "language"
    assert errors.errors[0]["index"] == 0
    assert len(errors.errors) == 1


def test_invalid_language_reason_names_fix():
    _clean, errors = validate_items([item_row(language="chinese")], max_rows=10)
    assert "'chinese'" in errors.errors[0]["reason"]
    assert "zh-Hans" in errors.errors[0]["reason"]


def test_missing_language_detected_on_upsert(tenant):
    rows, _ = validate_items([item_row(), item_row(id="n2", title="Rocket launch")], max_rows=10)
    ingest.upsert_items(tenant, rows)
    assert Item.objects.get(tenant=tenant, external_id="n1").language == "zh"
    assert Item.objects.get(tenant=tenant, external_id="n2").language == ""


def test_declared_language_wins_over_detection(tenant):
    rows, _ = validate_items([item_row(language="ja")], max_rows=10)
    ingest.upsert_items(tenant, rows)
    assert Item.objects.get(tenant=tenant, external_id="n1").language == "ja"


def test_language_change_changes_text_hash(tenant):
    rows, _ = validate_items([item_row(language="zh-Hans")], max_rows=10)
    ingest.upsert_items(tenant, rows)
    before = Item.objects.get(tenant=tenant, external_id="n1").text_hash
    rows, _ = validate_items([item_row(language="zh-Hant")], max_rows=10)
    ingest.upsert_items(tenant, rows)
    after = Item.objects.get(tenant=tenant, external_id="n1")
    assert after.language == "zh-Hant"
    assert after.text_hash != before


def test_hash_without_language_unchanged():
    text = item_text("Rocket launch", "", [], [])
    assert text_hash(text) == text_hash(text, "")
    assert text_hash(text, "en") != text_hash(text)


def test_save_detects_language(tenant):
    item = Item.objects.create(tenant=tenant, external_id="n3", title="宇航员进入轨道")
    assert item.language == "zh"
    assert item.text_hash == text_hash(item_text(item.title, "", [], []), "zh")


def test_model_validation_rejects_bad_tag(tenant):
    item = Item(tenant=tenant, external_id="n4", title="x", language="chinese")
    with pytest.raises(ValidationError) as raised:
        item.full_clean()
    assert "language" in raised.value.message_dict
