"""Request log lines and the log formatters, which must never print a secret."""

import json
import logging
import sys

import pytest

from semrec.ops.logs import JsonFormatter, PlainFormatter, redact

RAW_KEY = "sr_0123abcd_Zm9vYmFyYmF6cXV4c2VjcmV0LXBhcnQtb2Yta2V5"


def _record(message: str, *args, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("semrec.test", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def _request_records(caplog):
    return [record for record in caplog.records if record.name == "semrec.ops.middleware"]


@pytest.mark.parametrize(
    "text, secret",
    [
        (f"key {RAW_KEY} rejected", "Zm9vYmFyYmF6cXV4c2VjcmV0LXBhcnQtb2Yta2V5"),
        ("broker redis://:hunter2-secret@redis:6379/0 down", "hunter2-secret"),
        ("postgres://semrec:pa55word@db:5432/semrec", "pa55word"),
        ("header Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
    ],
)
def test_redact_masks_secret_shapes(text, secret):
    masked = redact(text)

    assert secret not in masked
    assert "***" in masked


def test_redact_keeps_key_prefix_and_plain_text():
    assert redact(f"key {RAW_KEY}") == "key sr_0123abcd_***"
    assert redact("GET /api/v1/users/414/recommendations/ 200") == "GET /api/v1/users/414/recommendations/ 200"


def test_redact_masks_secret_settings(settings):
    settings.SECRET_KEY = "django-secret-value-1234567890"
    settings.SEMREC_METRICS_TOKEN = "metrics-token-abcdef"
    settings.CELERY_BROKER_URL = "amqp://semrec:broker-pass-xyz@rabbit:5672//"

    masked = redact("values django-secret-value-1234567890 metrics-token-abcdef broker-pass-xyz")

    assert masked == "values *** *** ***"


def test_plain_formatter_masks_message_and_traceback(settings):
    settings.SECRET_KEY = "django-secret-value-1234567890"
    try:
        raise RuntimeError(f"could not use {RAW_KEY} with django-secret-value-1234567890")
    except RuntimeError:
        record = _record("failed for %s", RAW_KEY, exc_info=sys.exc_info())

    line = PlainFormatter("%(levelname)s %(name)s: %(message)s").format(record)

    assert line.startswith("INFO semrec.test: failed for sr_0123abcd_***")
    assert "Traceback" in line
    assert "Zm9vYmFy" not in line
    assert "django-secret-value" not in line


def test_json_formatter_writes_one_object_per_line(settings):
    settings.SECRET_KEY = 'secret"with-quote-1234'
    try:
        raise ValueError('secret"with-quote-1234')
    except ValueError:
        record = _record("key %s", RAW_KEY, exc_info=sys.exc_info(), tenant="acme", status_code=200)

    line = JsonFormatter().format(record)
    data = json.loads(line)

    assert "\n" not in line
    assert data["level"] == "INFO"
    assert data["logger"] == "semrec.test"
    assert data["message"] == "key sr_0123abcd_***"
    assert data["tenant"] == "acme"
    assert data["status_code"] == 200
    assert "time" in data
    assert "ValueError" in data["exc_info"]
    assert "with-quote" not in line


def test_request_line_names_tenant_strategy_status(client, strategy, caplog):
    caplog.set_level(logging.INFO, logger="semrec.ops.middleware")

    response = client.get("/api/v1/users/space-fan/recommendations/", HTTP_X_REQUEST_ID="req-42")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-42"
    [record] = _request_records(caplog)
    assert record.tenant == "acme"
    assert record.strategy == "hybrid"
    assert record.status_code == 200
    assert record.method == "GET"
    assert record.path == "/api/v1/users/space-fan/recommendations/"
    assert record.endpoint == "recommendations"
    assert record.request_id == "req-42"
    assert record.duration_ms > 0
    assert record.getMessage().startswith("GET /api/v1/users/space-fan/recommendations/ 200 ")
    assert "tenant=acme strategy=hybrid request_id=req-42" in record.getMessage()


def test_request_line_without_tenant(anonymous_client, db, caplog):
    caplog.set_level(logging.INFO, logger="semrec.ops.middleware")

    response = anonymous_client.get("/api/v1/items/", HTTP_AUTHORIZATION=f"Bearer {RAW_KEY}", HTTP_X_REQUEST_ID="bad id!")

    assert response.status_code == 401
    [record] = _request_records(caplog)
    assert record.tenant == "-"
    assert record.strategy == "-"
    assert record.status_code == 401
    # An id with characters outside [A-Za-z0-9._-] is replaced by a new one.
    assert record.request_id != "bad id!"
    assert len(record.request_id) == 32


def test_request_line_leaves_out_query_string(client, strategy, caplog):
    caplog.set_level(logging.INFO, logger="semrec.ops.middleware")

    client.get("/api/v1/users/space-fan/recommendations/", {"n": 3, "api_key": RAW_KEY})

    [record] = _request_records(caplog)
    assert "api_key" not in record.getMessage()
    assert RAW_KEY not in record.getMessage()
    assert record.path == "/api/v1/users/space-fan/recommendations/"


def test_no_secret_in_any_line_of_a_session(client, api_key, strategy, settings, caplog):
    """Every record of a session with valid, invalid and missing keys, formatted both ways, is free of secrets."""
    settings.SECRET_KEY = "django-secret-value-1234567890"
    caplog.set_level(logging.DEBUG)
    bad_key = "sr_0123abcd_" + "x" * 40

    client.get("/api/v1/users/space-fan/recommendations/", {"explain": 1})
    client.post("/api/v1/events/", [{"user_id": "space-fan", "item_id": "nope", "kind": "click"}], format="json")
    client.get("/api/v1/users/nobody/recommendations/")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {bad_key}")
    client.get("/api/v1/items/space-1/similar/")
    client.credentials(HTTP_X_API_KEY=api_key)
    client.get("/api/v1/items/space-1/similar/")
    logging.getLogger("semrec.test").warning("config %s", {"SECRET_KEY": settings.SECRET_KEY, "key": api_key})

    assert len(caplog.records) >= 5
    secrets = [api_key.split("_", 2)[2], bad_key.split("_", 2)[2], "django-secret-value-1234567890"]
    for formatter in (PlainFormatter("%(levelname)s %(name)s: %(message)s"), JsonFormatter()):
        for record in caplog.records:
            line = formatter.format(record)
            for secret in secrets:
                assert secret not in line, f"{record.name} logged a secret: {line}"
