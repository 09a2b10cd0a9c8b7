"""Bulk writes of items, users and events through the REST API."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from django.utils import timezone as django_timezone

from semrec.catalog.models import Event, Item, User

ITEMS = "/api/v1/items/"
USERS = "/api/v1/users/"
EVENTS = "/api/v1/events/"
MAX_ROWS = 10_000


def _post(client, url, body):
    return client.post(url, body, format="json")


def _error_fields(response) -> set[tuple[int, str]]:
    return {(error["index"], error["field"]) for error in response.json()["error"]["errors"]}


def _valid_row(url: str, index: int) -> dict:
    """Return a row that ``url`` accepts, for whole-body checks."""
    if url == ITEMS:
        return {"id": f"item-{index}", "title": f"Item {index}"}
    if url == USERS:
        return {"id": f"user-{index}"}
    return {"user_id": f"user-{index}", "kind": "search", "query": "jazz"}


@pytest.fixture
def items(client):
    """Items ``i1``, ``i2`` and ``i3`` of the client's tenant."""
    rows = [{"id": f"i{number}", "title": f"Item {number}"} for number in (1, 2, 3)]
    response = _post(client, ITEMS, rows)
    assert response.status_code == 200, response.content
    return rows


# --- Items ---


def test_items_created(client, tenant):
    rows = [
        {
            "id": "book-1",
            "title": "Dune",
            "description": "Desert planet.",
            "tags": ["classic", " sand "],
            "categories": ["Sci-Fi"],
            "attributes": {"pages": 412},
            "available": False,
        },
        {"id": "book-2", "title": "Emma"},
        {"id": 3, "title": "Ulysses"},
    ]

    response = _post(client, ITEMS, rows)

    assert response.status_code == 200
    assert response.json() == {"created": 3, "updated": 0, "duplicates": 0}
    book = Item.objects.get(tenant=tenant, external_id="book-1")
    assert book.title == "Dune"
    assert book.description == "Desert planet."
    assert book.tags == ["classic", "sand"]
    assert book.categories == ["Sci-Fi"]
    assert book.attributes == {"pages": 412}
    assert book.available is False
    assert Item.objects.get(tenant=tenant, external_id="book-2").available is True
    assert Item.objects.filter(tenant=tenant, external_id="3").exists()


def test_items_updated(client, tenant, items):
    rows = [{"id": "i1", "title": "Renamed"}, {"id": "i2", "title": "Item 2"}, {"id": "i4", "title": "Item 4"}]

    response = _post(client, ITEMS, rows)

    assert response.json() == {"created": 1, "updated": 2, "duplicates": 0}
    assert Item.objects.filter(tenant=tenant).count() == 4
    assert Item.objects.get(tenant=tenant, external_id="i1").title == "Renamed"


def test_item_update_changes_text_hash(client, tenant, items):
    before = Item.objects.get(tenant=tenant, external_id="i1").text_hash
    untouched = Item.objects.get(tenant=tenant, external_id="i2").text_hash

    _post(client, ITEMS, [{"id": "i1", "title": "Renamed"}, {"id": "i2", "title": "Item 2"}])

    assert Item.objects.get(tenant=tenant, external_id="i1").text_hash != before
    assert Item.objects.get(tenant=tenant, external_id="i2").text_hash == untouched


def test_item_ids_stripped(client, tenant):
    _post(client, ITEMS, [{"id": "  padded  ", "title": "Padded"}])

    assert Item.objects.filter(tenant=tenant, external_id="padded").exists()


def test_invalid_items_write_nothing(client, tenant, items):
    rows = [
        {"id": "i1", "title": "Would rename i1"},
        {"id": 5.5, "title": "Float id"},
        {"id": True, "title": "Boolean id"},
        {"id": "a", "title": 7},
        {"id": "b"},
        {"id": "c", "title": "   "},
        {"id": "   ", "title": "Blank id"},
        {"id": "x" * 256, "title": "Long id"},
        {"title": "No id"},
        {"id": "d", "title": "x" * 1001},
        {"id": "e", "title": "Tags", "tags": "sci-fi"},
        {"id": "f", "title": "Categories", "categories": [1]},
        {"id": "g", "title": "Attributes", "attributes": ["a"]},
        {"id": "h", "title": "Available", "available": "yes"},
        "not an object",
        {"id": "i1", "title": "Duplicate of row 0"},
        {"id": "", "title": 3},
        {"id": "j", "title": "NUL \u0000 inside"},
        {"id": "k", "title": "NUL attribute", "attributes": {"note": "a\u0000b"}},
        {"id": "ok", "title": "Fine"},
    ]

    response = _post(client, ITEMS, rows)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_batch"
    assert _error_fields(response) == {
        (1, "id"),
        (2, "id"),
        (3, "title"),
        (4, "title"),
        (5, "title"),
        (6, "id"),
        (7, "id"),
        (8, "id"),
        (9, "title"),
        (10, "tags"),
        (11, "categories"),
        (12, "attributes"),
        (13, "available"),
        (14, "(row)"),
        (15, "id"),
        (16, "id"),
        (16, "title"),
        (17, "title"),
        (18, "attributes"),
    }
    assert response.json()["error"]["message"].startswith("18 invalid row(s)")
    assert Item.objects.filter(tenant=tenant).count() == 3
    assert Item.objects.get(tenant=tenant, external_id="i1").title == "Item 1"


def test_invalid_item_reasons_readable(client, items):
    rows = [{"id": "i9", "title": "First"}, {"id": "i9", "title": "Again"}, {"id": "x" * 256, "title": "Long"}]

    errors = _post(client, ITEMS, rows).json()["error"]["errors"]

    reasons = {error["index"]: error["reason"] for error in errors}
    assert set(reasons) == {1, 2}
    assert "row 0" in reasons[1]
    assert "255" in reasons[2]


@pytest.mark.parametrize(
    ("url", "row", "field"),
    [
        (ITEMS, {"id": "nul\u0000id", "title": "Fine"}, "id"),
        (ITEMS, {"id": "i9", "title": "Fine", "description": "a\u0000b"}, "description"),
        (ITEMS, {"id": "i9", "title": "Fine", "tags": ["a\u0000b"]}, "tags"),
        (ITEMS, {"id": "i9", "title": "Fine", "attributes": {"a\u0000b": 1}}, "attributes"),
        (ITEMS, {"id": "i9", "title": "Fine", "attributes": {"list": [{"deep": "a\u0000b"}]}}, "attributes"),
        (USERS, {"id": "u9", "attributes": {"note": "a\u0000b"}}, "attributes"),
        (EVENTS, {"user_id": "u9", "item_id": "i1", "kind": "view", "idempotency_key": "a\u0000b"}, "idempotency_key"),
    ],
)
def test_nul_character_rejected(client, tenant, items, url, row, field):
    """PostgreSQL cannot store U+0000 in text or JSONB, so validation must catch it."""
    response = _post(client, url, [row])

    assert response.status_code == 400
    assert _error_fields(response) == {(0, field)}


# --- Users ---


def test_users_created_and_updated(client, tenant):
    first = _post(client, USERS, [{"id": "u1"}, {"id": "u2", "attributes": {"plan": "free"}}])
    second = _post(client, USERS, [{"id": "u2", "attributes": {"plan": "pro"}}, {"id": "u3"}])

    assert first.json() == {"created": 2, "updated": 0, "duplicates": 0}
    assert second.json() == {"created": 1, "updated": 1, "duplicates": 0}
    assert User.objects.filter(tenant=tenant).count() == 3
    assert User.objects.get(tenant=tenant, external_id="u2").attributes == {"plan": "pro"}


def test_invalid_users_write_nothing(client, tenant):
    rows = [
        {"id": "u1"},
        {"id": ""},
        {"id": "y" * 256},
        {"id": "u1"},
        {"id": "u4", "attributes": "gold"},
        ["u5"],
        {"id": {"nested": 1}},
        {"id": "nul\u0000"},
        {"attributes": {}},
    ]

    response = _post(client, USERS, rows)

    assert response.status_code == 400
    assert _error_fields(response) == {
        (1, "id"),
        (2, "id"),
        (3, "id"),
        (4, "attributes"),
        (5, "(row)"),
        (6, "id"),
        (7, "id"),
        (8, "id"),
    }
    assert not User.objects.filter(tenant=tenant).exists()


# --- Events ---


def test_events_created(client, tenant, items):
    rows = [
        {"user_id": "u1", "item_id": "i1", "kind": "view", "timestamp": "2024-03-01T12:00:00Z"},
        {"user_id": "u1", "item_id": "i2", "kind": "rating", "value": 4.5, "timestamp": "2024-03-01T13:00:00+02:00"},
        {"user_id": 7, "item_id": "i3", "kind": "purchase", "timestamp": 1709294400},
    ]

    response = _post(client, EVENTS, rows)

    assert response.status_code == 200
    assert response.json() == {"created": 3, "updated": 0, "duplicates": 0}
    view = Event.objects.get(tenant=tenant, item__external_id="i1")
    assert view.kind == "view"
    assert view.user.external_id == "u1"
    assert view.timestamp == datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
    rating = Event.objects.get(tenant=tenant, item__external_id="i2")
    assert rating.value == 4.5
    assert rating.timestamp == datetime(2024, 3, 1, 11, tzinfo=timezone.utc)
    purchase = Event.objects.get(tenant=tenant, item__external_id="i3")
    assert purchase.user.external_id == "7"
    assert purchase.timestamp == datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def test_event_naive_timestamp_is_utc(client, tenant, items):
    _post(client, EVENTS, [{"user_id": "u1", "item_id": "i1", "kind": "view", "timestamp": "2024-03-01T12:00:00"}])

    assert Event.objects.get(tenant=tenant).timestamp == datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def test_event_timestamp_defaults_to_now(client, tenant, items):
    before = django_timezone.now()

    _post(client, EVENTS, [{"user_id": "u1", "item_id": "i1", "kind": "click"}])

    timestamp = Event.objects.get(tenant=tenant).timestamp
    assert before - timedelta(seconds=1) <= timestamp <= django_timezone.now()


def test_search_event_needs_no_item(client, tenant):
    response = _post(client, EVENTS, [{"user_id": "u1", "kind": "search", "query": "space operas"}])

    assert response.status_code == 200
    search = Event.objects.get(tenant=tenant)
    assert search.item is None
    assert search.query == "space operas"


def test_event_keeps_recommendation_id(client, tenant, items):
    recommendation_id = uuid4()

    _post(client, EVENTS, [{"user_id": "u1", "item_id": "i1", "kind": "click", "recommendation_id": str(recommendation_id)}])

    assert Event.objects.get(tenant=tenant).recommendation_id == recommendation_id


def test_events_create_unknown_users(client, tenant, items):
    _post(client, USERS, [{"id": "known"}])

    rows = [{"user_id": "known", "item_id": "i1", "kind": "view"}, {"user_id": "new", "item_id": "i2", "kind": "view"}]
    response = _post(client, EVENTS, rows)

    assert response.status_code == 200
    assert set(User.objects.filter(tenant=tenant).values_list("external_id", flat=True)) == {"known", "new"}
    assert Event.objects.filter(tenant=tenant, user__external_id="new").count() == 1


def test_invalid_events_write_nothing(client, tenant, items):
    rows = [
        {"user_id": "u1", "item_id": "i1", "kind": "view"},
        {"user_id": "u2", "item_id": "i1", "kind": "view", "timestamp": "yesterday"},
        {"user_id": "u3", "item_id": "i1", "kind": "poke"},
        {"user_id": "u4", "item_id": "i1", "kind": "rating"},
        {"user_id": "u5", "kind": "search"},
        {"user_id": "u6", "item_id": "i1", "kind": "click", "recommendation_id": "not-a-uuid"},
        ["u7", "i1", "view"],
        {"item_id": "i1", "kind": "view"},
        {"user_id": "u9", "kind": "view"},
        {"user_id": "u10", "item_id": "i1", "kind": "rating", "value": "high"},
        {"user_id": "u11", "item_id": "i1", "kind": "rating", "value": 10**400},
        {"user_id": "u12", "item_id": "i1", "kind": "view", "timestamp": 10**400},
        {"user_id": "u13", "item_id": "i1", "kind": "view", "idempotency_key": 5},
        {"user_id": "u14", "item_id": "i1", "kind": "view", "idempotency_key": "k" * 256},
        {"user_id": "u15", "item_id": "i1"},
        {"user_id": "u16", "kind": "search", "query": "NUL \u0000"},
        {"user_id": "u17", "item_id": "i1", "kind": "view", "timestamp": "2024-13-01T00:00:00Z"},
        {"user_id": "u18", "item_id": "i1", "kind": "like", "value": True},
        {"user_id": "u19", "item_id": "i1", "kind": "view", "timestamp": True},
    ]

    response = _post(client, EVENTS, rows)

    assert response.status_code == 400
    assert _error_fields(response) == {
        (1, "timestamp"),
        (2, "kind"),
        (3, "value"),
        (4, "query"),
        (5, "recommendation_id"),
        (6, "(row)"),
        (7, "user_id"),
        (8, "item_id"),
        (9, "value"),
        (10, "value"),
        (11, "timestamp"),
        (12, "idempotency_key"),
        (13, "idempotency_key"),
        (14, "kind"),
        (15, "query"),
        (16, "timestamp"),
        (17, "value"),
        (18, "timestamp"),
    }
    assert not Event.objects.filter(tenant=tenant).exists()
    assert not User.objects.filter(tenant=tenant).exists()


def test_unknown_kind_reason_lists_kinds(client, items):
    response = _post(client, EVENTS, [{"user_id": "u1", "item_id": "i1", "kind": "poke"}])

    reason = response.json()["error"]["errors"][0]["reason"]
    assert "'poke'" in reason
    assert "purchase" in reason


def test_event_unknown_item_rejected(client, tenant, items):
    rows = [{"user_id": "u1", "item_id": "i1", "kind": "view"}, {"user_id": "u2", "item_id": "ghost", "kind": "view"}]

    response = _post(client, EVENTS, rows)

    assert response.status_code == 400
    errors = response.json()["error"]["errors"]
    assert [(error["index"], error["field"]) for error in errors] == [(1, "item_id")]
    assert "'ghost'" in errors[0]["reason"]
    assert not Event.objects.filter(tenant=tenant).exists()
    assert not User.objects.filter(tenant=tenant).exists()


def test_event_errors_combine_kinds(client, items):
    """Invalid fields and unknown items in one batch are reported together."""
    rows = [{"user_id": "u1", "item_id": "i1", "kind": "poke"}, {"user_id": "u2", "item_id": "ghost", "kind": "view"}]

    response = _post(client, EVENTS, rows)

    assert _error_fields(response) == {(0, "kind"), (1, "item_id")}


def test_replayed_batch_writes_nothing(client, tenant, items):
    rows = [{"user_id": "u1", "item_id": item["id"], "kind": "view", "idempotency_key": f"u1:{item['id']}"} for item in items]
    first = _post(client, EVENTS, rows)

    second = _post(client, EVENTS, rows)

    assert first.json() == {"created": 3, "updated": 0, "duplicates": 0}
    assert second.json() == {"created": 0, "updated": 0, "duplicates": 3}
    assert Event.objects.filter(tenant=tenant).count() == 3


def test_partly_replayed_batch(client, tenant, items):
    _post(client, EVENTS, [{"user_id": "u1", "item_id": "i1", "kind": "view", "idempotency_key": "a"}])
    rows = [
        {"user_id": "u1", "item_id": "i1", "kind": "view", "idempotency_key": "a"},
        {"user_id": "u1", "item_id": "i2", "kind": "view", "idempotency_key": "b"},
    ]

    response = _post(client, EVENTS, rows)

    assert response.json() == {"created": 1, "updated": 0, "duplicates": 1}
    assert sorted(Event.objects.filter(tenant=tenant).values_list("idempotency_key", flat=True)) == ["a", "b"]


def test_duplicate_keys_in_batch_inserted_once(client, tenant, items):
    rows = [
        {"user_id": "u1", "item_id": "i1", "kind": "view", "idempotency_key": "same"},
        {"user_id": "u1", "item_id": "i2", "kind": "click", "idempotency_key": "same"},
    ]

    response = _post(client, EVENTS, rows)

    assert response.json() == {"created": 1, "updated": 0, "duplicates": 1}
    assert Event.objects.filter(tenant=tenant).count() == 1
    assert Event.objects.get(tenant=tenant).item.external_id == "i1"


def test_events_without_key_not_deduplicated(client, tenant, items):
    row = {"user_id": "u1", "item_id": "i1", "kind": "view", "timestamp": "2024-03-01T12:00:00Z"}

    response = _post(client, EVENTS, [row, row])

    assert response.json() == {"created": 2, "updated": 0, "duplicates": 0}
    assert Event.objects.filter(tenant=tenant).count() == 2


# --- Whole-body checks, for every batch endpoint ---


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_object_body_rejected(client, url):
    response = _post(client, url, {"rows": [_valid_row(url, 0)]})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_batch"
    assert _error_fields(response) == {(-1, "(body)")}


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_empty_batch_rejected(client, url):
    response = _post(client, url, [])

    assert response.status_code == 400
    assert _error_fields(response) == {(-1, "(body)")}


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_oversized_batch_rejected(client, tenant, url):
    rows = [_valid_row(url, index) for index in range(MAX_ROWS + 1)]

    response = _post(client, url, rows)

    assert response.status_code == 400
    assert _error_fields(response) == {(-1, "(body)")}
    assert "10000" in response.json()["error"]["errors"][0]["reason"]
    assert not Item.objects.filter(tenant=tenant).exists()
    assert not User.objects.filter(tenant=tenant).exists()
    assert not Event.objects.filter(tenant=tenant).exists()


def test_full_batch_accepted(client, tenant):
    rows = [_valid_row(USERS, index) for index in range(MAX_ROWS)]

    response = _post(client, USERS, rows)

    assert response.json() == {"created": MAX_ROWS, "updated": 0, "duplicates": 0}
    assert User.objects.filter(tenant=tenant).count() == MAX_ROWS


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_malformed_json_rejected(client, url):
    response = client.post(url, '[{"id": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_form_body_unsupported(client, url):
    response = client.post(url, {"id": "form-row", "title": "Form"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_get_not_allowed(client, url):
    response = client.get(url)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- Routes ---


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_route_without_trailing_slash(client, url):
    response = _post(client, url.rstrip("/"), [_valid_row(url, 0)])

    assert response.status_code == 200
    assert response.json()["created"] == 1


@pytest.mark.parametrize("url", [ITEMS, USERS, EVENTS])
def test_route_with_trailing_slash(client, url):
    response = _post(client, url, [_valid_row(url, 0)])

    assert response.status_code == 200
    assert response.json()["created"] == 1


def test_rating_without_value_reported_with_other_errors(client, items):
    response = _post(client, "/api/v1/events/", [{"user_id": ["bad"], "item_id": "a", "kind": "rating"}])
    assert response.status_code == 400
    assert (0, "user_id") in _error_fields(response)
    assert (0, "value") in _error_fields(response)


def test_batch_errors_sorted_by_row(client, items):
    rows = [{"id": "x", "title": "T"}, {"id": "", "title": "T"}, {"id": "x", "title": "T"}]
    response = _post(client, "/api/v1/items/", rows)
    indexes = [error["index"] for error in response.json()["error"]["errors"]]
    assert indexes == sorted(indexes)


def test_missing_kind_says_required(client, items):
    response = _post(client, "/api/v1/events/", [{"user_id": "u", "item_id": "a"}])
    reasons = [error["reason"] for error in response.json()["error"]["errors"] if error["field"] == "kind"]
    assert reasons
    assert reasons[0].startswith("This field is required.")


def test_body_error_not_counted_as_row(client):
    response = _post(client, "/api/v1/items/", {"id": "a", "title": "A"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("The request body is invalid")


def test_form_body_hint_says_json(client):
    response = client.post("/api/v1/items/", {"id": "a"})
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]
