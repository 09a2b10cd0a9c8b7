"""API keys in the admin: shown once, then only by prefix, revocable, with the last use."""

import re

from django.urls import reverse

from semrec.tenants.models import ApiKey

KEYS = "/admin/tenants/apikey/"


def test_staff_creates_key_shown_once(staff, tenant):
    response = staff.post(reverse("admin:tenants_apikey_add"), {"tenant": tenant.pk, "name": "shop"}, follow=True)
    raw = re.search(r"sr_[0-9a-f]{8}_[\w-]+", response.content.decode()).group(0)
    key = ApiKey.authenticate(raw)
    assert key.tenant == tenant
    assert raw not in staff.get(KEYS).content.decode()
    assert raw not in staff.get(reverse("admin:tenants_apikey_change", args=[key.pk])).content.decode()
    assert f"sr_{key.prefix}_" in staff.get(KEYS).content.decode()


def test_staff_cannot_create_key_for_other_tenant(staff, other_tenant):
    response = staff.post(reverse("admin:tenants_apikey_add"), {"tenant": other_tenant.pk, "name": "theft"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiKey.objects.filter(tenant=other_tenant).exists()


def test_revoke_action_disables_key(staff, tenant):
    key, raw = ApiKey.issue(tenant, "old")
    response = staff.post(KEYS, {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert "Revoked 1 API key." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert ApiKey.authenticate(raw) is None
    assert "revoked" in staff.get(KEYS).content.decode()


def test_last_use_shown_after_request(staff, tenant, client):
    client.get("/api/v1/users/nobody/recommendations/")
    key = ApiKey.objects.get(tenant=tenant, name="tests")
    assert key.last_used_at is not None
    page = staff.get(reverse("admin:tenants_apikey_change", args=[key.pk])).content.decode()
    assert "Last used at" in page
    assert 'name="tenant"' not in page, "the tenant of an existing key must not be editable"
