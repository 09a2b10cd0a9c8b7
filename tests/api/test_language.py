"""Item languages through the API, and error messages in the language the client asks for."""

import pytest

from semrec.catalog.models import Item

ITEMS = "/api/v1/items/"
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}


def _post_items(client, rows, **headers):
    return client.post(ITEMS, rows, format="json", **headers)


def test_declared_language_stored_normalised(client, tenant):
    response = _post_items(client, [{"id": "n1", "title": "火箭发射", "language": "zh-hans"}])
    assert response.status_code == 200, response.content
    assert Item.objects.get(tenant=tenant, external_id="n1").language == "zh-Hans"


def test_missing_language_detected(client, tenant):
    response = _post_items(client, [{"id": "n1", "title": "火箭发射"}, {"id": "n2", "title": "Rocket launch", "language": ""}])
    assert response.status_code == 200, response.content
    languages = dict(Item.objects.filter(tenant=tenant).values_list("external_id", "language"))
    assert languages == {"n1": "zh", "n2": ""}


def test_invalid_language_rejects_batch(client, tenant):
    response = _post_items(client, [{"id": "n1", "title": "ok"}, {"id": "n2", "title": "火箭", "language": "chinese"}])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_batch"
    assert [(row["index"], row["field"]) for row in error["errors"]] == [(1, "language")]
    assert not Item.objects.filter(tenant=tenant).exists()


def test_batch_error_translated_code_stable(client):
    rows = [{"id": "n1"}]
    english = _post_items(client, rows).json()["error"]
    chinese_response = _post_items(client, rows, **CHINESE)
    chinese = chinese_response.json()["error"]
    assert chinese["code"] == english["code"] == "invalid_batch"
    assert english["message"].startswith("1 invalid row(s)")
    assert chinese["message"].startswith("有 1 行无效")
    assert chinese["errors"][0]["field"] == english["errors"][0]["field"] == "title"
    assert chinese["errors"][0]["reason"] == "此字段为必填项。"
    assert chinese_response["Content-Language"] == "zh-hans"


def test_authentication_error_translated(anonymous_client):
    response = anonymous_client.get("/api/v1/users/u1/recommendations/", **CHINESE)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert "需要身份认证" in error["message"]


def test_unknown_endpoint_translated(client):
    error = client.get("/api/v1/no-such-thing/", **CHINESE).json()["error"]
    assert error["code"] == "not_found"
    assert "不是 API 端点" in error["message"]


@pytest.mark.parametrize("header", ["zh-CN", "fr;q=0.9, zh-Hans;q=0.8", "zh-hans"])
def test_chinese_variants_choose_simplified(client, header):
    error = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT_LANGUAGE=header).json()["error"]
    assert "不是 API 端点" in error["message"]


@pytest.mark.parametrize("header", [None, "en-US", "de"])
def test_other_languages_get_english(client, header):
    headers = {"HTTP_ACCEPT_LANGUAGE": header} if header else {}
    error = client.get("/api/v1/no-such-thing/", **headers).json()["error"]
    assert error["message"].startswith("No API endpoint at")
