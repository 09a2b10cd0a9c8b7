"""A staff user of one tenant cannot read or change another tenant's rows on any admin page."""

import json

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import reverse

from semrec.catalog.models import Event
from semrec.strategies.models import Strategy
from semrec.tenants.admin_scope import TenantScopedAdminMixin, is_tenant_owned, tenant_lookup
from semrec.tenants.models import Tenant

from .conftest import FACTORIES

TENANT_ADMINS = sorted(
    (model_admin for model, model_admin in admin.site._registry.items() if is_tenant_owned(model)),
    key=lambda model_admin: model_admin.opts.label,
)
ADMIN_IDS = [model_admin.opts.label for model_admin in TENANT_ADMINS]


@pytest.fixture(params=TENANT_ADMINS, ids=ADMIN_IDS)
def model_admin(request):
    return request.param


@pytest.fixture
def rows(model_admin, tenant, other_tenant):
    """One row of the admin's model in the staff user's tenant and one in the other tenant."""
    factory = FACTORIES.get(model_admin.model)
    assert factory is not None, f"Add a factory for {model_admin.opts.label} to tests/admin/conftest.py FACTORIES."
    return factory(tenant), factory(other_tenant)


def _url(model_admin, view, *args):
    return reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_{view}", args=args)


def test_tenant_admins_found():
    assert len(TENANT_ADMINS) >= 12
    assert "training.TrainingSchedule" in ADMIN_IDS, "a model scoped through a declared tenant path is covered"


def test_admin_uses_scoping_mixin(model_admin):
    assert isinstance(model_admin, TenantScopedAdminMixin)


def test_list_shows_only_own_tenant(model_admin, rows, staff, superuser_client):
    own, other = rows
    page = staff.get(_url(model_admin, "changelist")).content.decode()
    assert _url(model_admin, "change", quote(own.pk)) in page
    assert _url(model_admin, "change", quote(other.pk)) not in page
    assert "globex" not in page.lower()
    everything = superuser_client.get(_url(model_admin, "changelist")).content.decode()
    assert _url(model_admin, "change", quote(other.pk)) in everything


def test_search_hides_other_tenant(model_admin, rows, staff):
    _own, other = rows
    page = staff.get(_url(model_admin, "changelist"), {"q": "globex"}).content.decode()
    assert _url(model_admin, "change", quote(other.pk)) not in page


def test_filter_by_other_tenant_shows_nothing(model_admin, rows, staff, other_tenant):
    if model_admin.model is Tenant:
        pytest.skip("tenants are not filtered by tenant")
    _own, other = rows
    # "tenant" or a declared path such as "strategy__tenant", as the tenant sidebar filter names it.
    tenant_path = tenant_lookup(model_admin.model).removesuffix("_id")
    response = staff.get(_url(model_admin, "changelist"), {f"{tenant_path}__id__exact": other_tenant.pk})
    if tenant_path in model_admin.list_filter:
        assert response.status_code == 200
    assert _url(model_admin, "change", quote(other.pk)) not in response.content.decode()


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_tenant_object_pages_hidden(model_admin, rows, staff, view):
    _own, other = rows
    response = staff.get(_url(model_admin, view, quote(other.pk)))
    assert response.status_code in (302, 403, 404)
    assert "globex" not in response.content.decode().lower()


def test_crafted_post_changes_nothing(model_admin, rows, staff):
    _own, other = rows
    before = model_to_dict(other)
    data = {key: value for key, value in before.items() if value is not None and not isinstance(value, (dict, list, bytes))}
    data["name"] = "stolen"
    staff.post(_url(model_admin, "change", quote(other.pk)), data)
    staff.post(_url(model_admin, "delete", quote(other.pk)), {"post": "yes"})
    other.refresh_from_db()
    assert model_to_dict(other) == before


def test_action_on_other_tenant_rows_ignored(model_admin, rows, staff):
    _own, other = rows
    changelist = _url(model_admin, "changelist")
    staff.post(changelist, {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"})
    assert model_admin.model.objects.filter(pk=other.pk).exists()


def test_form_pickers_offer_only_own_tenant(model_admin, rows, staff, tenant, other_tenant):
    request = RequestFactory().get("/")
    request.user = _staff_user()
    form_class = model_admin.get_form(request, None)
    pickers = [name for name, field in form_class.base_fields.items() if hasattr(field, "queryset") and is_tenant_owned(field.queryset.model)]
    for name in pickers:
        field = form_class.base_fields[name]
        related = field.queryset.model
        other_rows = FACTORIES[related](other_tenant) if related is not Tenant else other_tenant
        assert not field.queryset.filter(pk=other_rows.pk).exists(), f"{name} offers a row of tenant globex"
        form = form_class(data={name: other_rows.pk})
        assert name in form.errors, f"{name} accepted a row of tenant globex"


def _staff_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="acme-staff")


def test_autocomplete_returns_only_own_tenant(staff, tenant, other_tenant):
    FACTORIES[Event](tenant)
    FACTORIES[Event](other_tenant)
    response = staff.get("/admin/autocomplete/", {"app_label": "recommend", "model_name": "recommendation", "field_name": "user", "term": ""})
    assert response.status_code == 200
    texts = [result["text"] for result in json.loads(response.content)["results"]]
    assert texts == ["acme-user"]


def test_staff_cannot_add_tenant(staff):
    assert staff.get(reverse("admin:tenants_tenant_add")).status_code == 403


def test_staff_without_membership_sees_nothing(tenant, other_tenant):
    from .conftest import make_staff

    FACTORIES[Event](tenant)
    outsider = make_staff("outsider", [])
    page = outsider.get(reverse("admin:catalog_event_changelist")).content.decode()
    assert "acme" not in page
    assert "globex" not in page.lower()


def test_evaluate_form_offers_only_own_strategies(staff, tenant, other_tenant):
    FACTORIES[Strategy](tenant)
    theirs = FACTORIES[Strategy](other_tenant)
    url = reverse("admin:evaluation_evaluationresult_evaluate")
    assert "globex" not in staff.get(url).content.decode()
    response = staff.post(url, {"strategies": [theirs.pk], "protocol": "random_by_user", "train_ratio": 0.75, "seed": 1, "ks": "10"})
    assert "Select a valid choice" in response.content.decode()
