"""Prometheus metrics: requests per endpoint, lists served and fallbacks, tasks; access to the endpoint."""

import pytest
from prometheus_client import REGISTRY

from semrec.strategies.models import Strategy
from semrec.tenants.models import Tenant
from semrec.training.models import TrainingRun
from semrec.training.runs import enqueue
from semrec.training.tasks import train_strategy_task

from ..catalogue import load_catalogue


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client, **headers):
    return client.get("/metrics", REMOTE_ADDR=headers.pop("remote_addr", "127.0.0.1"), **headers)


def test_request_latency_per_endpoint(client, strategy):
    labels = {"method": "GET", "endpoint": "recommendations"}
    before = _value("semrec_http_request_duration_seconds_count", **labels)
    ok_before = _value("semrec_http_requests_total", status="200", **labels)

    client.get("/api/v1/users/space-fan/recommendations/")
    client.get("/api/v1/users/cook/recommendations/")

    assert _value("semrec_http_request_duration_seconds_count", **labels) == before + 2
    assert _value("semrec_http_requests_total", status="200", **labels) == ok_before + 2
    assert _value("semrec_http_request_duration_seconds_sum", **labels) > 0


def test_unmatched_paths_share_one_label(anonymous_client, db):
    before = _value("semrec_http_requests_total", method="GET", endpoint="unmatched", status="404")

    anonymous_client.get("/no/such/page/1")
    anonymous_client.get("/no/such/page/2")

    assert _value("semrec_http_requests_total", method="GET", endpoint="unmatched", status="404") == before + 2


def test_unknown_method_counted_as_other(anonymous_client, db):
    before = _value("semrec_http_requests_total", method="other", endpoint="items", status="401")

    anonymous_client.generic("BREW", "/api/v1/items/")

    assert _value("semrec_http_requests_total", method="other", endpoint="items", status="401") == before + 1


def test_recommendations_counted_per_tenant_and_strategy(client, strategy):
    labels = {"tenant": "acme", "strategy": "hybrid", "kind": "user"}
    served = _value("semrec_recommendations_total", **labels)
    fallbacks = _value("semrec_recommendation_fallbacks_total", **labels)

    client.get("/api/v1/users/space-fan/recommendations/")
    client.get("/api/v1/items/space-1/similar/")

    assert _value("semrec_recommendations_total", **labels) == served + 1
    assert _value("semrec_recommendations_total", tenant="acme", strategy="hybrid", kind="similar") >= 1
    assert _value("semrec_recommendation_fallbacks_total", **labels) == fallbacks


def test_fallbacks_counted(client, strategy):
    # bulk_create skips the validation in save(), as an uninstalled plugin would.
    Strategy.objects.bulk_create([Strategy(tenant=strategy.tenant, name="broken", scorer_id="nope")])
    labels = {"tenant": "acme", "strategy": "broken", "kind": "user"}
    served = _value("semrec_recommendations_total", **labels)
    fallbacks = _value("semrec_recommendation_fallbacks_total", **labels)

    response = client.get("/api/v1/users/space-fan/recommendations/", {"strategy": "broken"})

    assert response.json()["fell_back"] is True
    assert _value("semrec_recommendations_total", **labels) == served + 1
    assert _value("semrec_recommendation_fallbacks_total", **labels) == fallbacks + 1


@pytest.mark.django_db
def test_task_duration_and_failures():
    tenant = Tenant.objects.create(slug="tasks", name="Tasks")
    load_catalogue(tenant)
    strategy = Strategy.objects.create(tenant=tenant, name="hybrid", is_default=True)
    empty = Strategy.objects.create(tenant=Tenant.objects.create(slug="empty", name="Empty"), name="hybrid", is_default=True)
    succeeded = _value("semrec_task_duration_seconds_count", task="semrec.encode_items", state="SUCCESS")
    failed = _value("semrec_task_failures_total", task="semrec.train_strategy")
    failed_runs = _value("semrec_task_duration_seconds_count", task="semrec.train_strategy", state="FAILURE")

    enqueue(strategy, TrainingRun.Kind.ENCODE)
    # enqueue() makes eager tasks raise before Celery records the failure, as
    # CELERY_TASK_EAGER_PROPAGATES requires. A worker records it, as apply() does here.
    run = TrainingRun.objects.create(tenant=empty.tenant, strategy=empty, kind=TrainingRun.Kind.TRAIN)
    result = train_strategy_task.apply(args=[run.pk], throw=False)
    assert result.failed()

    assert _value("semrec_task_duration_seconds_count", task="semrec.encode_items", state="SUCCESS") == succeeded + 1
    assert _value("semrec_task_failures_total", task="semrec.train_strategy") == failed + 1
    assert _value("semrec_task_duration_seconds_count", task="semrec.train_strategy", state="FAILURE") == failed_runs + 1


def test_metrics_exposition(client, strategy):
    client.get("/api/v1/users/space-fan/recommendations/")

    response = _scrape(client)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    assert 'semrec_recommendations_total{kind="user",strategy="hybrid",tenant="acme"}' in body
    assert 'semrec_http_request_duration_seconds_bucket{endpoint="recommendations",le="0.1",method="GET"}' in body


def test_metrics_without_slash_and_custom_path(anonymous_client, db):
    assert _scrape(anonymous_client).status_code == 200
    assert anonymous_client.get("/metrics/", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_metrics_refused_outside_allowed_networks(anonymous_client, db, settings):
    settings.SEMREC_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    assert _scrape(anonymous_client, remote_addr="10.4.5.6").status_code == 200
    assert _scrape(anonymous_client, remote_addr="::ffff:10.4.5.6").status_code == 200
    refused = _scrape(anonymous_client, remote_addr="203.0.113.9")
    assert refused.status_code == 403
    assert "SEMREC_METRICS_ALLOWED_NETWORKS" in refused.json()["detail"]


def test_metrics_open_when_no_networks_listed(anonymous_client, db, settings):
    settings.SEMREC_METRICS_ALLOWED_NETWORKS = []

    assert _scrape(anonymous_client, remote_addr="203.0.113.9").status_code == 200


def test_metrics_need_token_when_set(anonymous_client, db, settings):
    settings.SEMREC_METRICS_TOKEN = "scrape-token-123456"

    missing = _scrape(anonymous_client)
    wrong = _scrape(anonymous_client, HTTP_AUTHORIZATION="Bearer scrape-token-000000")
    right = _scrape(anonymous_client, HTTP_AUTHORIZATION="Bearer scrape-token-123456")

    assert missing.status_code == 403
    assert "SEMREC_METRICS_TOKEN" in missing.json()["detail"]
    assert wrong.status_code == 403
    assert right.status_code == 200


def test_metrics_refused_to_all_when_networks_invalid(anonymous_client, db, settings, caplog):
    settings.SEMREC_METRICS_ALLOWED_NETWORKS = ["intranet"]

    response = _scrape(anonymous_client)

    assert response.status_code == 403
    assert "'intranet' is not an IP network" in caplog.text
