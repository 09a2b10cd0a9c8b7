"""The leaderboard in the admin: columns, sorting, filters, promotion and starting evaluations."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from semrec.evaluation.models import EvaluationResult
from semrec.strategies.models import Strategy
from semrec.training.models import TrainingRun

from .conftest import make_strategy

LEADERBOARD = "/admin/evaluation/evaluationresult/"


@pytest.fixture
def browser(db):
    admin = get_user_model().objects.create_superuser("root", password="a-long-password-1")
    browser = Client()
    browser.force_login(admin)
    return browser


def _result(strategy, ndcg, k=10, protocol="random_by_item"):
    return EvaluationResult.objects.create(
        tenant=strategy.tenant, strategy=strategy, model_version="abc123def456", protocol=protocol, train_ratio=0.75,
        seed=42, k=k, users=100, precision=0.3, recall=0.2, ndcg=ndcg, map=0.1, mrr=0.5, hit_rate=0.9,
        coverage=0.2, diversity=0.6, novelty=2.5,
    )


@pytest.fixture
def board(tenant):
    ease = make_strategy(tenant, "ease", "ease")
    popular = make_strategy(tenant, "popular", "popularity")
    return {
        "ease": _result(ease, 0.481),
        "popular": _result(popular, 0.252),
        "popular_k20": _result(popular, 0.240, k=20),
    }


def _strategy_order(page: str) -> list[str]:
    return re.findall(r'class="field-strategy[^"]*"><a [^>]*>acme/(\w+)</a>', page)


def test_leaderboard_shows_metric_columns(browser, board):
    page = browser.get(LEADERBOARD).content.decode()
    for label in ("nDCG", "Recall", "Precision", "MAP", "MRR", "Hit rate", "Coverage", "Diversity", "Novelty"):
        assert label in page, label
    assert "0.4810" in page
    assert "abc123def456" in page


def test_leaderboard_best_ndcg_first(browser, board):
    assert _strategy_order(browser.get(LEADERBOARD).content.decode()) == ["ease", "popular", "popular"]


def test_leaderboard_sorts_by_column(browser, board):
    # Column 6 is nDCG (column 0 contains the action checkboxes); a positive index sorts ascending.
    page = browser.get(LEADERBOARD, {"o": "6"}).content.decode()
    assert _strategy_order(page) == ["popular", "popular", "ease"]


def test_leaderboard_filters_by_k(browser, board):
    page = browser.get(LEADERBOARD, {"k": "20"}).content.decode()
    assert _strategy_order(page) == ["popular"]
    assert "0.2400" in page


def test_promote_to_default(browser, board, tenant):
    Strategy.objects.create(tenant=tenant, name="current", is_default=True)
    response = browser.post(
        LEADERBOARD, {"action": "promote_to_default", "_selected_action": [board["ease"].pk]}, follow=True
    )
    assert "is now the default of tenant acme" in response.content.decode()
    assert Strategy.objects.get(tenant=tenant, is_default=True).name == "ease"


def test_promote_needs_one_strategy(browser, board, tenant):
    selected = [board["ease"].pk, board["popular"].pk]
    response = browser.post(LEADERBOARD, {"action": "promote_to_default", "_selected_action": selected}, follow=True)
    assert "Select results of exactly one strategy" in response.content.decode()
    assert not Strategy.objects.filter(tenant=tenant, is_default=True).exists()


def test_evaluate_form_shown(browser, board):
    page = browser.get(LEADERBOARD).content.decode()
    assert "/admin/evaluation/evaluationresult/evaluate/" in page
    form = browser.get(LEADERBOARD + "evaluate/").content.decode()
    assert 'name="strategies"' in form
    assert "Start evaluation" in form


def test_evaluate_from_admin(browser, ease_strategy):
    data = {"strategies": [ease_strategy.pk], "protocol": "leave_last_out", "train_ratio": "0.75", "seed": "7", "ks": "3, 5"}
    response = browser.post(LEADERBOARD + "evaluate/", data, follow=True)
    assert response.redirect_chain[-1][0] == LEADERBOARD
    assert "Evaluated 1 strategy" in response.content.decode()
    assert sorted(EvaluationResult.objects.filter(strategy=ease_strategy).values_list("k", flat=True)) == [3, 5]
    assert EvaluationResult.objects.filter(seed=7).count() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ks": "ten"}, "Enter whole numbers separated by commas"),
        ({"ks": "0"}, "Each K must be between 1 and 1000"),
        ({"train_ratio": "1.2"}, "train_ratio"),
        ({"strategies": []}, "This field is required"),
    ],
)
def test_evaluate_form_rejects_bad_input(browser, ease_strategy, change, message):
    data = {"strategies": [ease_strategy.pk], "protocol": "random_by_user", "train_ratio": "0.75", "seed": "42", "ks": "10", **change}
    response = browser.post(LEADERBOARD + "evaluate/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TrainingRun.objects.filter(kind="evaluate").exists()


def test_evaluate_form_rejects_two_tenants(browser, ease_strategy, other_tenant):
    foreign = Strategy.objects.create(tenant=other_tenant, name="foreign")
    data = {"strategies": [ease_strategy.pk, foreign.pk], "protocol": "random_by_user", "train_ratio": "0.75", "seed": "42", "ks": "10"}
    response = browser.post(LEADERBOARD + "evaluate/", data)
    assert "Choose strategies of one tenant" in response.content.decode()
    assert not TrainingRun.objects.filter(kind="evaluate").exists()


def test_failed_evaluation_reported(browser, tenant):
    strategy = make_strategy(tenant, "empty", "ease")
    data = {"strategies": [strategy.pk], "protocol": "random_by_user", "train_ratio": "0.75", "seed": "42", "ks": "10"}
    response = browser.post(LEADERBOARD + "evaluate/", data, follow=True)
    assert "Evaluation of strategy empty failed" in response.content.decode()
    assert TrainingRun.objects.get(kind="evaluate").status == "failed"



@pytest.fixture
def viewer(tenant):
    """A staff user of the tenant who may view results but not change strategies or start runs."""
    from django.contrib.auth.models import Permission

    from semrec.tenants.models import TenantMembership

    user = get_user_model().objects.create_user("viewer", password="a-long-password-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_evaluationresult"))
    TenantMembership.objects.create(tenant=tenant, user=user)
    client = Client()
    client.force_login(user)
    return client


def test_viewer_sees_leaderboard_without_actions(viewer, board):
    page = viewer.get(LEADERBOARD).content.decode()
    assert "0.4810" in page
    assert "promote_to_default" not in page
    assert "/evaluate/" not in page


def test_viewer_cannot_start_evaluation(viewer, ease_strategy):
    response = viewer.post(LEADERBOARD + "evaluate/", {"strategies": [ease_strategy.pk], "ks": "10"})
    assert response.status_code == 403
    assert not TrainingRun.objects.filter(kind="evaluate").exists()


def test_results_are_read_only(browser, board):
    page = browser.get(f"{LEADERBOARD}{board['ease'].pk}/change/").content.decode()
    assert "0.481" in page
    assert 'name="_save"' not in page
