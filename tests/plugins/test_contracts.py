"""The contract test kit, run against every registered plugin of each family."""

import pytest

from semrec.plugins import get_registry
from semrec.plugins.testing import EncoderContract, ExplainerContract, IntentModelContract, ScorerContract


def _instances(family):
    return [pytest.param(cls, id=cls.id) for cls in get_registry().classes(family)]


class TestEncoders(EncoderContract):
    @pytest.fixture(params=_instances("encoder"))
    def plugin(self, request):
        return request.param({})


class TestScorers(ScorerContract):
    @pytest.fixture(params=_instances("scorer"))
    def plugin(self, request):
        return request.param({})


class TestIntentModels(IntentModelContract):
    @pytest.fixture(params=_instances("intent_model"))
    def plugin(self, request):
        return request.param({})


class TestExplainers(ExplainerContract):
    @pytest.fixture(params=_instances("explainer"))
    def plugin(self, request):
        return request.param({})


@pytest.mark.parametrize("family", ["encoder", "intent_model", "scorer", "explainer"])
def test_every_family_has_a_builtin(family):
    assert get_registry().ids(family)
