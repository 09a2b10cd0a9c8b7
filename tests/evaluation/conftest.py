"""Fixtures for evaluation tests: the handmade catalogue, encoded, with single-scorer strategies."""

import pytest

from semrec.strategies.models import Strategy
from semrec.training.models import TrainingRun
from semrec.training.runs import run_now

#: Every rating and purchase counts, with no ageing, as in the MovieLens protocol.
PLAIN_OPTIONS = {"rating_floor": 0, "half_life_days": None, "intent_boost": 0}


@pytest.fixture
def encoded(catalogue):
    """The catalogue tenant with its items encoded by the default strategy's encoder."""
    strategy = Strategy.objects.create(tenant=catalogue, name="hybrid", is_default=True, intent_model_id="", options=PLAIN_OPTIONS)
    run_now(strategy, TrainingRun.Kind.ENCODE)
    return catalogue


def make_strategy(tenant, name, scorer_id, scorer_config=None, **fields):
    return Strategy.objects.create(
        tenant=tenant,
        name=name,
        scorer_id=scorer_id,
        scorer_config=scorer_config or {},
        intent_model_id=fields.pop("intent_model_id", ""),
        options=fields.pop("options", PLAIN_OPTIONS),
        **fields,
    )


@pytest.fixture
def ease_strategy(encoded):
    return make_strategy(encoded, "ease", "ease", {"regularization": 1.0})
