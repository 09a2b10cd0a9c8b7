"""Settings read from the environment: defaults, production requirements, check --deploy."""

import json
import secrets
import subprocess
import sys

import pytest

from .processes import ROOT, child_environment, run_python

PRINT_SETTINGS = """
import json
import os
import django
from django.conf import settings
django.setup()
print(json.dumps({
    "hf_home": os.environ.get("HF_HOME"),
    "engine": settings.DATABASES["default"]["ENGINE"],
    "host": settings.DATABASES["default"].get("HOST"),
    "password": settings.DATABASES["default"].get("PASSWORD"),
    "conn_health_checks": settings.DATABASES["default"].get("CONN_HEALTH_CHECKS"),
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "csrf_trusted_origins": settings.CSRF_TRUSTED_ORIGINS,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "middleware": settings.MIDDLEWARE,
    "log_handler_formatter": settings.LOGGING["handlers"]["console"]["formatter"],
}))
"""

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "semrec.example.com",
}


def _settings(**variables) -> dict:
    result = run_python(PRINT_SETTINGS, child_environment(DJANGO_SETTINGS_MODULE="semrec.settings", **variables))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _manage(*args, **variables) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=child_environment(**variables), cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_defaults_use_embedded_database_and_eager_celery():
    values = _settings()

    assert values["engine"] == "semrec.embedded_db"
    assert values["eager"] is True
    assert values["debug"] is True
    assert values["allowed_hosts"] == ["127.0.0.1", "localhost"]
    assert values["ssl_redirect"] is False
    assert values["hsts"] == 0
    assert "whitenoise.middleware.WhiteNoiseMiddleware" not in values["middleware"]
    assert values["middleware"][:2] == ["semrec.ops.middleware.ProbeMiddleware", "semrec.ops.middleware.RequestLogMiddleware"]
    assert values["log_handler_formatter"] == "plain"


def test_production_values_from_environment():
    values = _settings(
        **PRODUCTION,
        DATABASE_URL="postgres://semrec:s3cret-pass@db.internal:5432/semrec",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/11",
        CSRF_TRUSTED_ORIGINS="https://semrec.example.com,https://admin.example.com",
        SEMREC_LOG_FORMAT="json",
    )

    assert values["engine"] == "django.db.backends.postgresql"
    assert values["host"] == "db.internal"
    assert values["password"] == "s3cret-pass"
    assert values["conn_health_checks"] is True
    assert values["eager"] is False
    assert values["debug"] is False
    assert values["allowed_hosts"] == ["semrec.example.com"]
    assert values["csrf_trusted_origins"] == ["https://semrec.example.com", "https://admin.example.com"]
    assert values["ssl_redirect"] is True
    assert values["hsts"] == 31_536_000
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in values["middleware"]
    assert values["log_handler_formatter"] == "json"


def test_artifact_dir_sets_hugging_face_cache(tmp_path):
    assert _settings(SEMREC_ARTIFACT_DIR=str(tmp_path))["hf_home"] == str(tmp_path / "huggingface")
    assert _settings(SEMREC_ARTIFACT_DIR=str(tmp_path), HF_HOME="/models/hf")["hf_home"] == "/models/hf"


def test_database_url_with_unix_socket_folder():
    values = _settings(DATABASE_URL="postgres://postgres@%2Frun%2Fpostgresql/semrec")

    assert values["host"] == "/run/postgresql"


def test_production_without_secret_key_fails():
    result = _manage("check", DEBUG="0", ALLOWED_HOSTS="semrec.example.com")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_empty_secret_key_fails_in_production():
    result = _manage("check", DEBUG="false", SECRET_KEY="", ALLOWED_HOSTS="semrec.example.com")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_in_production():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_reports_weak_production_settings():
    """The deploy check can fail: a short key and no HTTPS redirect are reported."""
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="0", SECRET_KEY="short", ALLOWED_HOSTS="semrec.example.com",
        SECURE_SSL_REDIRECT="false",
    )

    assert result.returncode != 0
    assert "security.W008" in result.stderr
    assert "security.W009" in result.stderr


@pytest.mark.parametrize("value", ["xml", "JSON "])
def test_unknown_log_format_fails(value):
    result = _manage("check", SEMREC_LOG_FORMAT=value)

    assert result.returncode != 0
    assert "SEMREC_LOG_FORMAT is" in result.stderr
    assert "'plain' or 'json'" in result.stderr


def test_invalid_metrics_network_fails_system_check():
    result = _manage("check", SEMREC_METRICS_ALLOWED_NETWORKS="10.0.0.0/8,intranet")

    assert result.returncode != 0
    assert "semrec.ops.E001" in result.stderr
    assert "'intranet'" in result.stderr
