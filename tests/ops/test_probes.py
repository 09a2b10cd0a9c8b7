"""/healthz and /readyz: cheap, unauthenticated, handled before host checks and HTTPS redirects."""

import pytest
from django.test import Client

from semrec.celery import app
from semrec.recommend import runtime
from semrec.training.models import ModelVersion

from .processes import free_port


@pytest.fixture
def probe_client():
    # A host outside ALLOWED_HOSTS, as when a load balancer probes the container's address.
    return Client(HTTP_HOST="10.1.2.3:8000")


@pytest.fixture
def broker_url(settings):
    """Point the Celery app at a broker for one test, then restore eager mode."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}

    def use(url: str) -> None:
        settings.CELERY_TASK_ALWAYS_EAGER = False
        app.conf.update(broker_url=url, task_always_eager=False)
        app.close()

    yield use
    app.conf.update(saved)
    app.close()


def test_healthz_touches_nothing(probe_client):
    # Without the db fixture any query raises, so a 200 means none ran.
    response = probe_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_other_paths_keep_host_validation(probe_client, db):
    assert probe_client.get("/api/v1/items/").status_code == 400


def test_probes_skip_https_redirect(probe_client, settings, db):
    settings.SECURE_SSL_REDIRECT = True

    assert probe_client.get("/healthz").status_code == 200
    assert probe_client.get("/readyz").status_code == 200
    assert Client().get("/api/v1/items/").status_code == 301


def test_probes_with_trailing_slash(probe_client, db):
    assert probe_client.get("/healthz/").status_code == 200
    assert probe_client.get("/readyz/").status_code == 200


def test_probes_reject_post(probe_client):
    assert probe_client.post("/healthz").status_code == 405
    assert probe_client.post("/readyz").status_code == 405


def test_readyz_without_models(probe_client, db):
    response = probe_client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "not used", "models": "ok"},
        "strategies_loaded": 0,
    }


def test_readyz_loads_active_model_versions(probe_client, strategy):
    runtime.clear_runtimes()

    response = probe_client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["strategies_loaded"] == 1
    cached = runtime._runtimes[strategy.pk]
    active = tuple(ModelVersion.objects.filter(strategy=strategy, is_active=True).order_by("pk").values_list("pk", flat=True))
    assert cached.versions == active
    assert cached.untrained == []


def test_readyz_fails_on_damaged_artefact(probe_client, strategy, caplog):
    ModelVersion.objects.filter(strategy=strategy, is_active=True).update(artifact=b"not an artefact")
    runtime.clear_runtimes()

    response = probe_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert response.json()["checks"]["models"] == "failed"
    assert f"strategy {strategy.pk}: the active model versions could not be loaded" in caplog.text


def test_readyz_with_reachable_broker(probe_client, db, broker_url, redis_url):
    broker_url(redis_url)

    response = probe_client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


def test_readyz_fails_without_broker(probe_client, db, broker_url, caplog):
    broker_url(f"redis://:broker-password-123@127.0.0.1:{free_port()}/0")

    response = probe_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "failed", "models": "ok"}
    assert "Celery broker" in caplog.text
    # The response names no host, and the log no password.
    assert "127.0.0.1" not in response.content.decode()
    assert "broker-password-123" not in caplog.text
