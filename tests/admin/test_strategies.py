"""The strategy form: plugin dropdowns, schema help, inline configuration errors, cloning and the default."""

import re

import pytest
from django.urls import reverse

from semrec.strategies.models import Strategy

from .conftest import FACTORIES


def _form_data(strategy, **changes):
    data = {
        "tenant": strategy.tenant_id,
        "name": strategy.name,
        "encoder_id": strategy.encoder_id,
        "encoder_config": "{}",
        "intent_model_id": strategy.intent_model_id,
        "intent_model_config": "{}",
        "scorer_id": strategy.scorer_id,
        "scorer_config": "{}",
        "fallback_scorer_id": strategy.fallback_scorer_id,
        "fallback_scorer_config": "{}",
        "explainer_id": strategy.explainer_id,
        "explainer_config": "{}",
        "options": "{}",
    }
    data.update(changes)
    return data


@pytest.fixture
def strategy(tenant):
    return FACTORIES[Strategy](tenant)


def _field_errors(page: str, field: str) -> str:
    """Return the text of the error list rendered in ``field``'s row, or ''."""
    row = re.search(rf'<div class="form-row[^"]*field-{field}[^"]*">(.*?)(?=<div class="form-row|</fieldset>)', page, re.S)
    errors = re.search(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', row.group(1), re.S) if row else None
    return errors.group(1) if errors else ""


def test_plugin_slots_are_dropdowns(staff, strategy):
    page = staff.get(reverse("admin:strategies_strategy_change", args=[strategy.pk])).content.decode()
    assert '<select name="scorer_id"' in page
    assert re.search(r'<option value="ease"[^>]*>EASE \(item-item, closed form\) \(ease, version [\d.]+, from semrec [\d.]+\)', page)
    assert '<select name="encoder_id"' in page
    assert "Softmax over categories (softmax" in page
    assert '<option value="" selected>(none)</option>' in page, "the optional intent model slot offers no plugin"


def test_schema_help_shows_defaults_and_limits(staff, strategy):
    page = staff.get(reverse("admin:strategies_strategy_change", args=[strategy.pk])).content.decode()
    block = re.search(r'data-slot="scorer" data-plugin="ease">(.*?)</table>', page, re.S).group(1)
    assert "<code>regularization</code>" in block
    assert "<code>500.0</code>" in block
    assert "maximum: 30000" in block
    assert "integer" in block


def test_invalid_config_error_on_config_field(staff, strategy):
    url = reverse("admin:strategies_strategy_change", args=[strategy.pk])
    response = staff.post(url, _form_data(strategy, scorer_id="ease", scorer_config='{"max_items": 1}'))
    page = response.content.decode()
    assert response.status_code == 200
    assert "max_items: Input should be greater than or equal to 2" in _field_errors(page, "scorer_config")
    assert _field_errors(page, "scorer_id") == ""
    strategy.refresh_from_db()
    assert strategy.scorer_id == "popularity"


def test_unknown_config_key_rejected(staff, strategy):
    url = reverse("admin:strategies_strategy_change", args=[strategy.pk])
    page = staff.post(url, _form_data(strategy, fallback_scorer_config='{"windows": 3}')).content.decode()
    assert "windows: Extra inputs are not permitted" in _field_errors(page, "fallback_scorer_config")


def test_hybrid_part_error_on_scorer_config(staff, strategy):
    config = '{"scorers": [{"id": "ease", "config": {"max_items": 1}}]}'
    page = staff.post(reverse("admin:strategies_strategy_change", args=[strategy.pk]), _form_data(strategy, scorer_id="hybrid", scorer_config=config)).content.decode()
    assert "ease.max_items" in _field_errors(page, "scorer_config")


def test_not_a_json_object_rejected(staff, strategy):
    url = reverse("admin:strategies_strategy_change", args=[strategy.pk])
    page = staff.post(url, _form_data(strategy, scorer_config="[1, 2]")).content.decode()
    assert "Enter a JSON object" in _field_errors(page, "scorer_config")


def test_valid_config_saved(staff, strategy):
    url = reverse("admin:strategies_strategy_change", args=[strategy.pk])
    response = staff.post(url, _form_data(strategy, scorer_id="ease", scorer_config='{"max_items": 100}'))
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert strategy.scorer_id == "ease"
    assert strategy.scorer_config == {"max_items": 100}


def test_missing_plugin_listed_in_dropdown(staff, strategy):
    Strategy.objects.filter(pk=strategy.pk).update(explainer_id="gone")
    page = staff.get(reverse("admin:strategies_strategy_change", args=[strategy.pk])).content.decode()
    assert '<option value="gone" selected>gone (not installed)</option>' in page
    response = staff.post(reverse("admin:strategies_strategy_change", args=[strategy.pk]), _form_data(strategy, explainer_id="gone"))
    assert "Explainer &#x27;gone&#x27; is not installed" in _field_errors(response.content.decode(), "explainer_id")


def test_make_default_demotes_previous(staff, tenant, strategy):
    other = Strategy.objects.create(tenant=tenant, name="old-default", scorer_id="popularity", intent_model_id="", is_default=True)
    response = staff.post(reverse("admin:strategies_strategy_change", args=[strategy.pk]), _form_data(strategy, make_default="on"))
    assert response.status_code == 302
    strategy.refresh_from_db()
    other.refresh_from_db()
    assert strategy.is_default
    assert not other.is_default


def test_clone_action_copies_strategy(staff, strategy):
    Strategy.objects.filter(pk=strategy.pk).update(is_default=True, scorer_config={"window_days": 7})
    url = reverse("admin:strategies_strategy_changelist")
    for _ in range(2):
        staff.post(url, {"action": "clone", "_selected_action": [strategy.pk]})
    copies = Strategy.objects.filter(tenant=strategy.tenant, name__startswith=f"{strategy.name}-copy").order_by("name")
    assert [copy.name for copy in copies] == [f"{strategy.name}-copy", f"{strategy.name}-copy-2"]
    assert all(not copy.is_default for copy in copies)
    assert copies[0].scorer_config == {"window_days": 7}
