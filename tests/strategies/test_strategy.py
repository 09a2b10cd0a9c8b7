"""Strategy validation against plugin schemas, and the system check."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import IntegrityError

from semrec.strategies.models import Strategy
from semrec.strategies.options import StrategyOptions


def test_default_strategy_is_valid(tenant):
    Strategy(tenant=tenant, name="default").full_clean()


def test_unknown_plugin_rejected(tenant):
    strategy = Strategy(tenant=tenant, name="s", scorer_id="nope")
    with pytest.raises(ValidationError) as raised:
        strategy.full_clean()
    message = " ".join(raised.value.message_dict["scorer_id"])
    assert "'nope' is not installed" in message
    assert "popularity" in message


def test_bad_plugin_config_rejected(tenant):
    strategy = Strategy(tenant=tenant, name="s", scorer_id="collaborative", scorer_config={"factors": 0})
    with pytest.raises(ValidationError) as raised:
        strategy.full_clean()
    assert "factors" in " ".join(raised.value.message_dict["scorer_id"])


def test_bad_sub_scorer_rejected(tenant):
    config = {"scorers": [{"id": "content"}, {"id": "missing-one"}]}
    strategy = Strategy(tenant=tenant, name="s", scorer_id="hybrid", scorer_config=config)
    with pytest.raises(ValidationError) as raised:
        strategy.full_clean()
    assert "missing-one" in " ".join(raised.value.message_dict["scorer_id"])


def test_bad_options_rejected(tenant):
    strategy = Strategy(tenant=tenant, name="s", options={"half_life_days": -1})
    with pytest.raises(ValidationError) as raised:
        strategy.full_clean()
    assert "options" in raised.value.message_dict


def test_one_default_per_tenant(tenant):
    Strategy.objects.create(tenant=tenant, name="a", is_default=True)
    with pytest.raises(IntegrityError):
        Strategy.objects.create(tenant=tenant, name="b", is_default=True)


def test_check_reports_missing_plugin(tenant):
    # bulk_create skips save(), as a plugin uninstalled after saving would.
    Strategy.objects.bulk_create([Strategy(tenant=tenant, name="broken", explainer_id="gone")])
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    message = str(raised.value)
    assert "semrec.E001" in message
    assert "acme/broken" in message
    assert "'gone' is not installed" in message


def test_check_passes_with_valid_strategies(tenant):
    Strategy.objects.create(tenant=tenant, name="fine")
    call_command("check")


@pytest.mark.parametrize(
    ("kind", "value", "age", "expected"),
    [
        ("purchase", None, 0, 3.0),
        ("rating", 5.0, 0, 1.0),
        ("rating", 2.0, 0, 0.0),
        ("rating", 3.5, 0, 0.5),
        ("dislike", None, 0, 0.0),
        ("view", None, 180, 0.5),
    ],
)
def test_event_weight(kind, value, age, expected):
    assert StrategyOptions().event_weight(kind, value, age) == pytest.approx(expected)


def test_save_rejects_unknown_plugin(tenant):
    with pytest.raises(ValidationError) as raised:
        Strategy.objects.create(tenant=tenant, name="s", scorer_id="nope")
    assert "'nope' is not installed" in " ".join(raised.value.message_dict["scorer_id"])
    assert not Strategy.objects.filter(tenant=tenant, name="s").exists()


def test_save_rejects_bad_config(tenant):
    strategy = Strategy.objects.create(tenant=tenant, name="s")
    strategy.scorer_config = {"method": "average"}
    with pytest.raises(ValidationError):
        strategy.save()
    strategy.refresh_from_db()
    assert strategy.scorer_config == {}
