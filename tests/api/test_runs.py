"""Background runs through the REST API: start, list and follow encode, train and evaluate runs.

Without a broker (the test settings) a run executes during the POST, so
these tests see it finished. ``test_worker_runs_posted_encode`` sends the
run to a real Celery worker on Redis instead.
"""

import pytest
from rest_framework.test import APIClient

from semrec.celery import app
from semrec.strategies.models import Strategy
from semrec.tenants.models import ApiKey
from semrec.training.models import ModelVersion, TrainingRun

from ..training.conftest import broker, wait_for, worker  # noqa: F401 (fixtures)

RUNS = "/api/v1/runs/"


def _post(client, body):
    return client.post(RUNS, body, format="json")


def _run_fields() -> set[str]:
    return {
        "id", "kind", "status", "strategy", "stage", "done", "total", "percent", "eta_seconds", "created_at",
        "started_at", "finished_at", "duration_seconds", "error", "result", "model_versions",
    }


def _other_client(other_tenant) -> APIClient:
    _key, raw = ApiKey.issue(other_tenant, "tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


# --- Starting runs ---


def test_post_encode_returns_run(client, catalogue):
    response = _post(client, {"kind": "encode"})

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == _run_fields()
    assert body["kind"] == "encode"
    assert body["status"] == "succeeded", body["error"]
    assert body["strategy"] == Strategy.objects.get(tenant=catalogue, is_default=True).name
    assert body["result"]["items_encoded"] == 16
    assert body["done"] == body["total"]
    assert body["percent"] == 100.0
    assert body["duration_seconds"] >= 0
    assert response["Location"].endswith(f"/api/v1/runs/{body['id']}/")


def test_post_encode_force(client, strategy):
    unforced = _post(client, {"kind": "encode", "strategy": "hybrid"}).json()
    forced = _post(client, {"kind": "encode", "strategy": "hybrid", "force": True}).json()

    assert unforced["result"]["items_encoded"] == 0
    assert forced["result"]["items_encoded"] == 16


def test_post_train_lists_model_versions(client, strategy):
    response = _post(client, {"kind": "train", "strategy": "hybrid"})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "succeeded", body["error"]
    trained = {entry["model_version"] for entry in body["result"]["trained"]}
    assert trained
    assert {version["id"] for version in body["model_versions"]} == trained
    for version in body["model_versions"]:
        stored = ModelVersion.objects.get(pk=version["id"])
        assert version["role"] == stored.role
        assert version["plugin"] == stored.plugin_id
        assert version["is_active"] is True


def test_post_evaluate(client, strategy):
    response = _post(client, {"kind": "evaluate", "settings": {"protocol": "leave_last_out", "ks": [5]}})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "evaluate"
    assert body["status"] == "succeeded", body["error"]
    assert set(body["result"]["metrics"]) == {"5"}
    assert body["model_versions"] == []


def test_failed_eager_run_is_reported(client, tenant):
    response = _post(client, {"kind": "train"})

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "failed"
    assert "no positive interactions" in body["error"]
    assert body["finished_at"] is not None


# --- Bad input: HTTP 400 and no run created ---

BAD_BODIES = {
    "unknown kind": ({"kind": "retrain"}, "kind", "Unknown kind 'retrain'"),
    "missing kind": ({"strategy": "hybrid"}, "kind", "required"),
    "kind not a string": ({"kind": ["encode"]}, "kind", "Unknown kind"),
    "unknown strategy": ({"kind": "encode", "strategy": "nope"}, "strategy", "Strategy 'nope' does not exist"),
    "strategy not a slug": ({"kind": "encode", "strategy": "a b"}, "strategy", "slug"),
    "force as string": ({"kind": "encode", "force": "yes"}, "force", "JSON boolean"),
    "force as number": ({"kind": "encode", "force": 1}, "force", "JSON boolean"),
    "force on train": ({"kind": "train", "force": True}, "force", "only to encode runs"),
    "force on evaluate": ({"kind": "evaluate", "force": False}, "force", "only to encode runs"),
    "settings on encode": ({"kind": "encode", "settings": {}}, "settings", "only to evaluate runs"),
    "settings not an object": ({"kind": "evaluate", "settings": [1]}, "settings", "dictionary"),
    "invalid settings": ({"kind": "evaluate", "settings": {"ks": [0]}}, "settings", "Invalid evaluation settings"),
    "unknown settings key": ({"kind": "evaluate", "settings": {"k": 5}}, "settings", "k:"),
    "unknown field": ({"kind": "encode", "priority": 1}, "priority", "Unknown field"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_body_is_400(case, client, strategy):
    body, field, reason = BAD_BODIES[case]
    runs_before = TrainingRun.objects.count()
    strategies_before = Strategy.objects.count()

    response = _post(client, body)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    reasons = {entry["field"]: entry["reason"] for entry in error["errors"]}
    assert field in reasons, reasons
    assert reason in reasons[field]
    assert TrainingRun.objects.count() == runs_before
    assert Strategy.objects.count() == strategies_before


def test_body_not_an_object_is_400(client, tenant):
    response = _post(client, [{"kind": "encode"}])

    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["field"] == "non_field_errors"
    assert not TrainingRun.objects.exists()


def test_malformed_json_is_400(client, tenant):
    response = client.post(RUNS, b"{kind: encode", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not TrainingRun.objects.exists()


def test_form_body_is_415(client, tenant):
    response = client.post(RUNS, {"kind": "encode"})

    assert response.status_code == 415
    assert not TrainingRun.objects.exists()


def test_unknown_strategy_creates_no_default(client, tenant):
    response = _post(client, {"kind": "train", "strategy": "nope"})

    assert response.status_code == 400
    assert not Strategy.objects.filter(tenant=tenant).exists()


def test_runs_need_api_key(anonymous_client, tenant):
    assert anonymous_client.get(RUNS).status_code == 401
    assert _post(anonymous_client, {"kind": "encode"}).status_code == 401
    assert not TrainingRun.objects.exists()


# --- Listing and reading runs ---


def _make_runs(strategy, kinds_and_statuses):
    return [
        TrainingRun.objects.create(tenant=strategy.tenant, strategy=strategy, kind=kind, status=status)
        for kind, status in kinds_and_statuses
    ]


@pytest.fixture
def plain_strategy(tenant):
    return Strategy.objects.create(tenant=tenant, name="plain", is_default=True)


def test_list_newest_first(client, plain_strategy):
    runs = _make_runs(plain_strategy, [("encode", "succeeded"), ("train", "failed"), ("evaluate", "queued")])

    response = client.get(RUNS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is None
    assert [run["id"] for run in body["results"]] == [run.pk for run in reversed(runs)]
    assert set(body["results"][0]) == _run_fields()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "failed"}, [1]),
        ({"kind": "encode"}, [3, 0]),
        ({"kind": "encode", "status": "running"}, [3]),
        ({"strategy": "plain"}, [3, 2, 1, 0]),
        ({"strategy": "other"}, []),
    ],
)
def test_list_filters(client, plain_strategy, query, expected):
    Strategy.objects.create(tenant=plain_strategy.tenant, name="other")
    runs = _make_runs(plain_strategy, [("encode", "succeeded"), ("train", "failed"), ("evaluate", "queued"), ("encode", "running")])

    body = client.get(RUNS, query).json()

    assert [run["id"] for run in body["results"]] == [runs[index].pk for index in expected]
    assert body["count"] == len(expected)


def test_list_pages(client, plain_strategy):
    runs = _make_runs(plain_strategy, [("encode", "succeeded")] * 5)
    newest_first = [run.pk for run in reversed(runs)]

    first = client.get(RUNS, {"limit": 2, "kind": "encode"}).json()
    second = client.get(first["next"]).json()
    last = client.get(second["next"]).json()

    assert first["count"] == 5
    assert [run["id"] for run in first["results"]] == newest_first[:2]
    assert "kind=encode" in first["next"]
    assert [run["id"] for run in second["results"]] == newest_first[2:4]
    assert [run["id"] for run in last["results"]] == newest_first[4:]
    assert last["next"] is None


def test_list_excludes_other_tenant(client, plain_strategy, other_tenant):
    other = Strategy.objects.create(tenant=other_tenant, name="plain", is_default=True)
    _make_runs(other, [("encode", "succeeded")])

    body = client.get(RUNS).json()

    assert body["count"] == 0
    assert body["results"] == []


BAD_FILTERS = {
    "unknown status": ({"status": "done"}, "status", "Unknown status 'done'"),
    "unknown kind": ({"kind": "fit"}, "kind", "Unknown kind 'fit'"),
    "limit zero": ({"limit": 0}, "limit", "Must be at least 1, got 0."),
    "limit too large": ({"limit": 201}, "limit", "Must be at most 200, got 201."),
    "limit not a number": ({"limit": "ten"}, "limit", "Must be a whole number, got 'ten'."),
    "negative offset": ({"offset": -1}, "offset", "Must be at least 0, got -1."),
    "unknown strategy": ({"strategy": "ghost"}, "strategy", "Strategy 'ghost' does not exist"),
}


@pytest.mark.parametrize("case", BAD_FILTERS)
def test_bad_filter_is_400(case, client, plain_strategy):
    query, field, reason = BAD_FILTERS[case]

    response = client.get(RUNS, query)

    assert response.status_code == 400
    reasons = {entry["field"]: entry["reason"] for entry in response.json()["error"]["errors"]}
    assert reason in reasons[field]


def test_detail_shows_progress(client, plain_strategy):
    (run,) = _make_runs(plain_strategy, [("encode", "queued")])
    TrainingRun.objects.filter(pk=run.pk).update(stage="encode items", done=25, total=100)

    response = client.get(f"{RUNS}{run.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == run.pk
    assert body["stage"] == "encode items"
    assert (body["done"], body["total"], body["percent"]) == (25, 100, 25.0)
    assert body["eta_seconds"] is None
    assert body["duration_seconds"] is None
    assert body["strategy"] == "plain"


def test_detail_without_trailing_slash(client, plain_strategy):
    (run,) = _make_runs(plain_strategy, [("train", "queued")])

    assert client.get(f"{RUNS}{run.pk}").status_code == 200


def test_other_tenant_run_is_404(client, plain_strategy, other_tenant):
    (run,) = _make_runs(plain_strategy, [("encode", "succeeded")])

    response = _other_client(other_tenant).get(f"{RUNS}{run.pk}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "run_not_found"


def test_missing_run_is_404(client, plain_strategy):
    response = client.get(f"{RUNS}987654/")

    assert response.status_code == 404
    assert "987654" in response.json()["error"]["message"]


@pytest.mark.parametrize("run_id", ["abc", "0", "-1", "1.5", "99999999999999999999", "%C2%B2"])
def test_bad_run_id_is_400(client, plain_strategy, run_id):
    response = client.get(f"{RUNS}{run_id}/")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_run_id"
    assert "positive integer" in error["message"]


# --- A real worker ---


@pytest.mark.django_db(transaction=True)
def test_worker_runs_posted_encode(worker, client, catalogue):  # noqa: F811
    response = _post(client, {"kind": "encode", "force": True})
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    assert response.json()["status"] in ("queued", "running")

    wait_for(TrainingRun.objects.get(pk=run_id), worker)
    body = client.get(f"{RUNS}{run_id}/").json()

    assert body["status"] == "succeeded", body["error"]
    assert body["result"]["items_encoded"] == 16
    assert body["started_at"] is not None
    assert body["duration_seconds"] > 0
    assert "Task semrec.encode_items[" in worker.output()


# --- An unreachable broker ---


@pytest.fixture
def unreachable_broker(settings):
    """Send tasks to a Redis URL on a closed loopback port, as when the broker is down."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(broker_url="redis://127.0.0.1:9/0", task_always_eager=False)
    app.close()
    yield
    app.conf.update(saved)
    app.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["train", "evaluate"])
def test_unreachable_broker_is_503(unreachable_broker, client, plain_strategy, kind):
    response = _post(client, {"kind": kind})

    assert response.status_code == 503, response.content
    error = response.json()["error"]
    assert error["code"] == "broker_unavailable"
    assert "CELERY_BROKER_URL" in error["message"]
    run = TrainingRun.objects.get(kind=kind)
    assert run.status == TrainingRun.Status.FAILED
    assert "Could not send the task to the broker" in run.error
