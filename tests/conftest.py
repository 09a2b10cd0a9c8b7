"""Shared fixtures: tenants, API clients and a handmade catalogue, on the real embedded PostgreSQL."""

import os
from pathlib import Path

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from semrec.recommend.context import clear_popularity_cache
from semrec.recommend.queries import clear_query_cache
from semrec.recommend.runtime import clear_runtimes
from semrec.strategies.models import Strategy
from semrec.tenants.models import ApiKey, Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import run_now

from .catalogue import load_catalogue

DATASETS = Path(os.environ.get("SEMREC_DATASETS", Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"))


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Per-process caches must not carry rows from one test's transaction into another."""
    clear_runtimes()
    clear_popularity_cache()
    clear_query_cache()
    yield
    clear_runtimes()
    clear_popularity_cache()
    clear_query_cache()


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    """Reset the language: LocaleMiddleware leaves the last request's language active in this thread."""
    yield
    translation.deactivate()


@pytest.fixture
def tenant(db):
    return Tenant.objects.create(slug="acme", name="Acme")


@pytest.fixture
def other_tenant(db):
    return Tenant.objects.create(slug="globex", name="Globex")


@pytest.fixture
def api_key(tenant):
    _key, raw = ApiKey.issue(tenant, "tests")
    return raw


@pytest.fixture
def client(api_key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return api


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def catalogue(tenant):
    load_catalogue(tenant)
    return tenant


@pytest.fixture
def strategy(catalogue):
    """The tenant's default hybrid strategy, encoded and trained on the catalogue."""
    strategy = Strategy.objects.create(
        tenant=catalogue,
        name="hybrid",
        is_default=True,
        scorer_id="hybrid",
        # The catalogue gives 32 intent examples, fewer than the default minimum.
        intent_model_config={"min_examples": 10},
    )
    run_now(strategy, TrainingRun.Kind.ENCODE)
    run_now(strategy, TrainingRun.Kind.TRAIN)
    return strategy
