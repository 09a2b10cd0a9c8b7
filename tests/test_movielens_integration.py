"""End to end on the real MovieLens latest-small: import, encode, train, recommend.

Skipped when ../shared/datasets/ml-latest-small (or $SEMREC_DATASETS) is missing.
The data is written once for this module and deleted afterwards.
"""

from collections import Counter

import pytest

from semrec.catalog.importers.movielens import import_movielens
from semrec.catalog.models import Event, Item, User
from semrec.recommend.service import recommend_for_user
from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import run_now

pytestmark = pytest.mark.dataset


@pytest.fixture(scope="module")
def movielens(django_db_setup, django_db_blocker, movielens_small):
    with django_db_blocker.unblock():
        tenant = Tenant.objects.create(slug="ml-it", name="MovieLens integration")
        stats = import_movielens(tenant, movielens_small, show_progress=False)
        hybrid = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True, scorer_id="hybrid")
        Strategy.objects.create(tenant=tenant, name="content", scorer_id="content")
        Strategy.objects.create(tenant=tenant, name="popularity", scorer_id="popularity")
        run_now(hybrid, TrainingRun.Kind.ENCODE)
        run_now(hybrid, TrainingRun.Kind.TRAIN)
        yield tenant, stats
        tenant.delete()


@pytest.fixture(scope="module")
def movielens_small():
    from .conftest import DATASETS

    path = DATASETS / "ml-latest-small"
    if not path.is_dir():
        pytest.skip(f"MovieLens latest-small not found at {path}")
    return path


def _genres(tenant, item_ids):
    counts = Counter()
    for categories in Item.objects.filter(tenant=tenant, external_id__in=item_ids).values_list("categories", flat=True):
        counts.update(categories)
    return counts


def _genre_fan(tenant, genre):
    """The user with at least 20 positive ratings, the largest share of them in ``genre``."""
    best, best_share = None, 0.0
    for user in User.objects.filter(tenant=tenant):
        liked = list(Event.objects.filter(user=user, value__gte=4).values_list("item__categories", flat=True))
        if len(liked) < 20:
            continue
        share = sum(genre in categories for categories in liked) / len(liked)
        if share > best_share:
            best, best_share = user, share
    return best, best_share


@pytest.mark.django_db
def test_import_counts(movielens):
    tenant, stats = movielens
    assert stats.items == 9742
    assert stats.events_created == 100836
    assert User.objects.filter(tenant=tenant).count() == 610


@pytest.mark.django_db
def test_genre_fan_gets_that_genre(movielens):
    tenant, _ = movielens
    fan, share = _genre_fan(tenant, "Horror")
    assert share > 0.5
    result = recommend_for_user(tenant, fan, n=10, strategy_name="content")
    genres = _genres(tenant, [row["id"] for row in result.items])
    assert genres["Horror"] >= 6, genres


@pytest.mark.django_db
def test_hybrid_differs_from_popularity(movielens):
    tenant, _ = movielens
    heavy = User.objects.get(tenant=tenant, external_id="414")
    hybrid = recommend_for_user(tenant, heavy, n=10, explain=True)
    popular = recommend_for_user(tenant, heavy, n=10, strategy_name="popularity")
    assert not hybrid.fell_back, hybrid.notes
    assert len(hybrid.items) == 10
    assert [row["id"] for row in hybrid.items] != [row["id"] for row in popular.items]


@pytest.mark.django_db
def test_explainer_cites_history(movielens):
    tenant, _ = movielens
    heavy = User.objects.get(tenant=tenant, external_id="414")
    result = recommend_for_user(tenant, heavy, n=10, explain=True)
    history = set(Event.objects.filter(user=heavy).values_list("item__external_id", flat=True))
    cited = [entry["id"] for row in result.items for entry in row["explanation"].get("because", [])]
    assert cited
    assert set(cited) <= history
