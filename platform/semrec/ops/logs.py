"""Log formatters (plain text or JSON lines) that mask secrets in every line."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

MASK = "***"

# Secret shapes that may appear in any message, with what replaces them.
_SECRET_PATTERNS = [
    # semrec API keys are sr_<8 hex prefix>_<secret>. The prefix is stored in
    # clear text and shown in the admin, so it stays to identify the key.
    (re.compile(r"\b(sr_[0-9a-f]{8}_)[A-Za-z0-9_\-]+"), r"\1" + MASK),
    # A password in a URL: scheme://user:password@host.
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s/:@]*:)[^\s/@]+@", re.IGNORECASE), r"\1" + MASK + "@"),
    # Credentials after an HTTP authentication scheme.
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE), r"\1 " + MASK),
]

# Shorter values are not masked, so that an empty or trivial password does
# not turn every occurrence of a common word into ***.
_MIN_SECRET_LENGTH = 6


def secret_values() -> list[str]:
    """Return the secret settings of this process: keys, tokens and passwords in URLs."""
    from django.conf import settings

    if not settings.configured:
        return []
    values = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS, getattr(settings, "SEMREC_METRICS_TOKEN", "")]
    values += [database.get("PASSWORD") or "" for database in settings.DATABASES.values()]
    for url in (settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND):
        values.append(_url_password(url))
    return [value for value in values if len(value) >= _MIN_SECRET_LENGTH]


def _url_password(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def redact(text: str) -> str:
    """Replace API keys, URL passwords, credentials and secret settings in ``text`` with ***."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in secret_values():
        text = text.replace(secret, MASK)
        # The same value as it appears inside a JSON string.
        escaped = json.dumps(secret)[1:-1]
        if escaped != secret:
            text = text.replace(escaped, MASK)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(item) for item in value]
    return value


class PlainFormatter(logging.Formatter):
    """A standard text formatter whose output has secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(BaseJsonFormatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields.

    Every string value, tracebacks included, has secrets masked.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return _redact_value(super().process_log_record(log_data))
