"""Fixtures for admin tests: two tenants with one row of every tenant-owned model, and their staff."""

from datetime import datetime, timezone

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from semrec.catalog.models import Event, Item, User
from semrec.evaluation.models import EvaluationResult
from semrec.recommend.models import Recommendation
from semrec.strategies.models import Strategy
from semrec.tenants.models import ApiKey, Tenant, TenantMembership
from semrec.training.models import ModelVersion, TrainingRun, TrainingSchedule
from semrec.vectors.models import EmbeddingSpace

SEMREC_APPS = ["tenants", "catalog", "vectors", "strategies", "training", "evaluation", "recommend"]
PASSWORD = "a-long-password-1"


def _strategy(tenant):
    return Strategy.objects.get_or_create(
        tenant=tenant, name=f"{tenant.slug}-popular", defaults={"scorer_id": "popularity", "intent_model_id": ""}
    )[0]


def _item(tenant):
    return Item.objects.get_or_create(tenant=tenant, external_id=f"{tenant.slug}-item", defaults={"title": f"{tenant.slug} secret item"})[0]


def _user(tenant):
    return User.objects.get_or_create(tenant=tenant, external_id=f"{tenant.slug}-user")[0]


def _event(tenant):
    return Event.objects.create(
        tenant=tenant, user=_user(tenant), item=_item(tenant), kind="view", timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc)
    )


def _run(tenant):
    return TrainingRun.objects.create(tenant=tenant, strategy=_strategy(tenant), kind=TrainingRun.Kind.TRAIN)


def _evaluation_result(tenant):
    return EvaluationResult.objects.create(
        tenant=tenant, strategy=_strategy(tenant), model_version="fingerprint", protocol="random_by_item", seed=1, k=10,
        users=1, precision=0.1, recall=0.1, ndcg=0.1, map=0.1, mrr=0.1, hit_rate=0.1, coverage=0.1,
    )


#: One way to get a row of each tenant-owned model for a tenant. A newly registered
#: model admin makes the scoping tests fail until its model has an entry here.
FACTORIES = {
    Tenant: lambda tenant: tenant,
    ApiKey: lambda tenant: ApiKey.issue(tenant, f"{tenant.slug} key")[0],
    Item: _item,
    User: _user,
    Event: _event,
    Strategy: _strategy,
    Recommendation: lambda tenant: Recommendation.objects.create(tenant=tenant, strategy=_strategy(tenant), user=_user(tenant)),
    EmbeddingSpace: lambda tenant: EmbeddingSpace.objects.create(
        tenant=tenant, encoder_id="lexical", fingerprint=tenant.slug[:16], model_name="tf-idf", dimension=8
    ),
    ModelVersion: lambda tenant: ModelVersion.objects.create(
        tenant=tenant, strategy=_strategy(tenant), role="scorer", plugin_id="popularity", plugin_version="0.1.0", artifact=b""
    ),
    TrainingRun: _run,
    EvaluationResult: _evaluation_result,
    TrainingSchedule: lambda tenant: TrainingSchedule.objects.get_or_create(
        strategy=_strategy(tenant), kind=TrainingRun.Kind.TRAIN, defaults={"interval_hours": 24}
    )[0],
}


def make_staff(username: str, tenants) -> Client:
    """Log in a staff user with every permission on semrec's models, member of ``tenants``."""
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=SEMREC_APPS))
    for tenant in tenants:
        TenantMembership.objects.create(tenant=tenant, user=user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(tenant):
    """A staff member of tenant ``acme`` only."""
    return make_staff("acme-staff", [tenant])


@pytest.fixture
def superuser_client(db):
    user = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client = Client()
    client.force_login(user)
    return client
