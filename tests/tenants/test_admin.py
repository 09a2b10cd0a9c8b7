"""API keys created in the admin."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from semrec.tenants.models import ApiKey


@pytest.fixture
def browser(db):
    admin = get_user_model().objects.create_superuser("root", password="a-long-password-1")
    browser = Client()
    browser.force_login(admin)
    return browser


def test_admin_creates_key_shown_once(browser, tenant):
    response = browser.post("/admin/tenants/apikey/add/", {"tenant": tenant.pk, "name": "web"}, follow=True)
    assert response.status_code == 200
    shown = re.search(r"sr_[0-9a-f]{8}_[\w-]+", response.content.decode())
    assert shown, "the new key must be shown once"
    key = ApiKey.authenticate(shown.group(0))
    assert key is not None
    assert key.tenant == tenant
    assert key.name == "web"
    assert ApiKey.objects.filter(tenant=tenant).count() == 1


def test_admin_key_list_hides_secret(browser, tenant):
    _key, raw = ApiKey.issue(tenant, "cli")
    page = browser.get("/admin/tenants/apikey/").content.decode()
    assert raw.split("_")[1] in page
    assert raw not in page
