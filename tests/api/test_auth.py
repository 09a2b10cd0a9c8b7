"""API key authentication and tenant isolation, through real requests."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from semrec.catalog.models import Event, Item, User
from semrec.tenants.models import ApiKey

USERS = "/api/v1/users/"
ITEMS = "/api/v1/items/"
EVENTS = "/api/v1/events/"

# Each case builds request headers from the tenant's real key, so the
# rejected keys look as close to a valid one as possible.
BAD_CREDENTIALS = {
    "basic scheme": lambda key: {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
    "bearer without key": lambda key: {"HTTP_AUTHORIZATION": "Bearer"},
    "key without scheme": lambda key: {"HTTP_AUTHORIZATION": key},
    "not an sr key": lambda key: {"HTTP_AUTHORIZATION": "Bearer abcdef"},
    "wrong secret": lambda key: {"HTTP_AUTHORIZATION": f"Bearer sr_{key.split('_')[1]}_{'A' * 43}"},
    "unknown prefix": lambda key: {"HTTP_AUTHORIZATION": f"Bearer sr_00000000_{key.split('_', 2)[2]}"},
    "wrong x-api-key": lambda key: {"HTTP_X_API_KEY": f"sr_{key.split('_')[1]}_{'A' * 43}"},
}


def _client(**headers) -> APIClient:
    client = APIClient()
    client.credentials(**headers)
    return client


def _create_user(client: APIClient, external_id: str = "intruder"):
    return client.post(USERS, [{"id": external_id}], format="json")


def _revoke(raw_key: str) -> None:
    prefix = raw_key.split("_")[1]
    ApiKey.objects.filter(prefix=prefix).update(revoked_at=timezone.now())


# --- Rejected requests ---


def test_missing_key_is_401(anonymous_client, tenant):
    response = _create_user(anonymous_client)

    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert set(response.json()["error"]) == {"code", "message"}
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "Authorization: Bearer <key>" in response.json()["error"]["message"]
    assert response["WWW-Authenticate"] == "Bearer"
    assert not User.objects.exists()


@pytest.mark.parametrize("case", BAD_CREDENTIALS)
def test_bad_key_is_401(case, tenant, api_key):
    response = _create_user(_client(**BAD_CREDENTIALS[case](api_key)))

    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert set(response.json()["error"]) == {"code", "message"}
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response["WWW-Authenticate"] == "Bearer"
    assert not User.objects.exists()


def test_revoked_key_is_401(client, api_key):
    _revoke(api_key)

    response = _create_user(client)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert not User.objects.exists()


def test_rejections_share_one_body(tenant, api_key):
    """A caller cannot tell a wrong secret, an unknown prefix and a revoked key apart."""
    bodies = {case: _create_user(_client(**headers(api_key))).content for case, headers in BAD_CREDENTIALS.items()}
    _revoke(api_key)
    bodies["revoked key"] = _create_user(_client(HTTP_AUTHORIZATION=f"Bearer {api_key}")).content

    reference = bodies["unknown prefix"]
    for case, body in bodies.items():
        assert body == reference, case


def test_rejection_names_no_tenant_or_prefix(tenant, api_key):
    prefix = api_key.split("_")[1]

    body = _create_user(_client(**BAD_CREDENTIALS["wrong secret"](api_key))).content.decode()

    assert prefix not in body
    assert tenant.slug not in body
    assert tenant.name not in body


def test_missing_and_bad_key_share_shape(anonymous_client, tenant, api_key):
    missing = _create_user(anonymous_client).json()
    bad = _create_user(_client(**BAD_CREDENTIALS["unknown prefix"](api_key))).json()

    assert set(missing) == set(bad)
    assert set(missing["error"]) == set(bad["error"])


def test_rejected_key_not_touched(tenant, api_key):
    _create_user(_client(**BAD_CREDENTIALS["wrong secret"](api_key)))

    assert ApiKey.objects.get().last_used_at is None


# --- Accepted requests ---


def test_bearer_key_authenticates(client, tenant):
    response = _create_user(client, "alice")

    assert response.status_code == 200
    assert User.objects.filter(tenant=tenant, external_id="alice").exists()


def test_bearer_scheme_case_insensitive(tenant, api_key):
    response = _create_user(_client(HTTP_AUTHORIZATION=f"bearer {api_key}"), "alice")

    assert response.status_code == 200


def test_x_api_key_authenticates(tenant, api_key):
    response = _create_user(_client(HTTP_X_API_KEY=api_key), "alice")

    assert response.status_code == 200
    assert User.objects.filter(tenant=tenant, external_id="alice").exists()


def test_last_used_at_set_on_use(client):
    assert ApiKey.objects.get().last_used_at is None
    before = timezone.now()

    _create_user(client, "alice")

    last_used_at = ApiKey.objects.get().last_used_at
    assert last_used_at is not None
    assert before - timedelta(seconds=1) <= last_used_at <= timezone.now()


def test_revoking_one_key_keeps_another(tenant, api_key):
    _other_key, other_raw = ApiKey.issue(tenant, "second")
    _revoke(api_key)

    response = _create_user(_client(HTTP_AUTHORIZATION=f"Bearer {other_raw}"), "alice")

    assert response.status_code == 200


# --- Tenant isolation ---


@pytest.fixture
def other_client(other_tenant):
    _key, raw = ApiKey.issue(other_tenant, "tests")
    return _client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def other_catalogue(other_client):
    """Tenant B's items ``b-item`` and ``shared``, user ``b-user`` and one event with key ``k1``."""
    rows = [{"id": "b-item", "title": "B's item"}, {"id": "shared", "title": "B's shared"}]
    items = other_client.post(ITEMS, rows, format="json")
    assert items.status_code == 200, items.content
    event = {"user_id": "b-user", "item_id": "b-item", "kind": "view", "idempotency_key": "k1"}
    events = other_client.post(EVENTS, [event], format="json")
    assert events.status_code == 200, events.content


def test_other_tenants_user_is_404(client, other_catalogue):
    response = client.get("/api/v1/users/b-user/recommendations/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


def test_other_tenants_item_is_404(client, other_catalogue):
    response = client.get("/api/v1/items/b-item/similar/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "item_not_found"


def test_item_write_stays_in_tenant(client, tenant, other_tenant, other_catalogue):
    response = client.post(ITEMS, [{"id": "shared", "title": "A's shared"}], format="json")

    assert response.json() == {"created": 1, "updated": 0, "duplicates": 0}
    assert Item.objects.get(tenant=tenant, external_id="shared").title == "A's shared"
    assert Item.objects.get(tenant=other_tenant, external_id="shared").title == "B's shared"


def test_user_write_stays_in_tenant(client, tenant, other_tenant, other_catalogue):
    response = client.post(USERS, [{"id": "b-user", "attributes": {"tier": "gold"}}], format="json")

    assert response.json() == {"created": 1, "updated": 0, "duplicates": 0}
    assert User.objects.get(tenant=tenant, external_id="b-user").attributes == {"tier": "gold"}
    assert User.objects.get(tenant=other_tenant, external_id="b-user").attributes == {}


def test_event_cannot_cite_other_tenants_item(client, tenant, other_catalogue):
    response = client.post(EVENTS, [{"user_id": "a-user", "item_id": "b-item", "kind": "view"}], format="json")

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["error"]["errors"]] == [(0, "item_id")]
    assert not Event.objects.filter(tenant=tenant).exists()


def test_idempotency_keys_per_tenant(client, tenant, other_tenant, other_catalogue):
    client.post(ITEMS, [{"id": "a-item", "title": "A's item"}], format="json")

    event = {"user_id": "a-user", "item_id": "a-item", "kind": "view", "idempotency_key": "k1"}
    response = client.post(EVENTS, [event], format="json")

    assert response.json() == {"created": 1, "updated": 0, "duplicates": 0}
    assert Event.objects.filter(tenant=tenant, idempotency_key="k1").count() == 1
    assert Event.objects.filter(tenant=other_tenant, idempotency_key="k1").count() == 1
