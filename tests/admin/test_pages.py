"""The "Installed plugins" and "Try it" admin pages."""

import re

from django.urls import reverse

from semrec.catalog.models import User
from semrec.plugins import get_registry
from semrec.recommend.models import Recommendation
from semrec.strategies.models import Strategy

from .conftest import FACTORIES

PLUGINS = "/admin/strategies/strategy/plugins/"
TRY_IT = "/admin/strategies/strategy/try/"


def test_plugins_page_lists_every_family(staff, tenant):
    page = staff.get(PLUGINS).content.decode()
    registry = get_registry()
    for family in ("encoder", "intent_model", "scorer", "explainer"):
        for cls in registry.classes(family):
            assert f'data-plugin="{cls.id}"' in page, cls.id
            assert registry.source_of(cls) in page
    assert "missing-plugins" not in page


def test_plugins_page_shows_users_and_missing(staff, tenant, other_tenant):
    mine = FACTORIES[Strategy](tenant)
    FACTORIES[Strategy](other_tenant)
    Strategy.objects.filter(pk=mine.pk).update(explainer_id="gone")
    page = staff.get(PLUGINS).content.decode()
    popularity_row = re.search(r'data-plugin="popularity">(.*?)</tr>', page, re.S).group(1)
    assert "acme/acme-popular" in popularity_row
    assert "globex" not in page
    missing = re.search(r'id="missing-plugins">(.*?)</div>', page, re.S).group(1)
    assert "gone" in missing
    assert "acme/acme-popular" in missing


def test_plugins_page_lists_hybrid_parts(staff, tenant):
    Strategy.objects.create(
        tenant=tenant, name="blend", intent_model_id="", scorer_id="hybrid", scorer_config={"scorers": [{"id": "ease"}, {"id": "content"}]}
    )
    page = staff.get(PLUGINS).content.decode()
    ease_row = re.search(r'data-plugin="ease">(.*?)</tr>', page, re.S).group(1)
    assert "acme/blend" in ease_row


def test_try_it_form_page(staff, tenant):
    response = staff.get(TRY_IT)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-ajax--url="/admin/autocomplete/"' in page, "the user picker must search"
    assert 'name="compare_with"' in page


def test_try_it_shows_recommendations(staff, strategy):
    user = strategy.tenant.users.get(external_id="space-fan")
    second = Strategy.objects.create(tenant=strategy.tenant, name="popular", scorer_id="popularity", intent_model_id="")
    params = {"user": user.pk, "query": "", "strategy": strategy.pk, "compare_with": second.pk, "n": 5}
    page = staff.get(TRY_IT, params).content.decode()
    previews = re.findall(r'<div class="module semrec-preview">(.*?)</table>', page, re.S)
    assert len(previews) == 2
    assert page.count('class="recommended-item"') == 10
    assert "Galaxy Explorers" in previews[0], "the space fan's first list must contain an unseen space title"
    assert "Intent (softmax)" in previews[0]
    assert "Sci-Fi" in previews[0]
    history = re.search(r'class="module semrec-history">(.*?)</table>', page, re.S).group(1)
    assert "Rocket to Mars" in history
    assert not Recommendation.objects.filter(strategy=strategy).exists(), "a preview must not be logged as served"


def test_try_it_rejects_strategy_of_other_tenant(staff, tenant, other_tenant):
    user = User.objects.create(tenant=tenant, external_id="someone")
    theirs = FACTORIES[Strategy](other_tenant)
    page = staff.get(TRY_IT, {"user": user.pk, "strategy": theirs.pk, "n": 5}).content.decode()
    assert "Select a valid choice" in page
    assert "semrec-preview" not in page


def test_try_it_rejects_mixed_tenants(superuser_client, tenant, other_tenant):
    user = User.objects.create(tenant=tenant, external_id="someone")
    theirs = FACTORIES[Strategy](other_tenant)
    page = superuser_client.get(TRY_IT, {"user": user.pk, "strategy": theirs.pk, "n": 5}).content.decode()
    assert "belongs to another tenant than user someone. Pick a strategy of tenant acme" in page
