"""Row-by-row validation of bulk item, user and event batches.

Each validator returns clean rows and a list of errors, one per problem, as
``{"index": row index, "field": field name, "reason": message}``. A batch with
any error is rejected whole by the callers, so nothing is half-written.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .language import InvalidLanguageTag, normalise_language_tag
from .models import EXTERNAL_ID_LENGTH, EventKind

EVENT_KINDS = {choice.value for choice in EventKind}

#: PostgreSQL rejects this character in text and in JSONB strings.
NUL = "\x00"


def _contains_nul(value: Any) -> bool:
    """Return whether a string, or any key or string inside a JSON value, contains NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(entry) for key, entry in value.items())
    if isinstance(value, list):
        return any(_contains_nul(entry) for entry in value)
    return False


@dataclass
class BatchErrors:
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, index: int, field_name: str, reason: str) -> None:
        self.errors.append({"index": index, "field": field_name, "reason": str(reason)})

    def __bool__(self) -> bool:
        return bool(self.errors)


class _RowReader:
    """Reads typed fields from one row, recording errors instead of raising."""

    def __init__(self, row: dict, index: int, errors: BatchErrors):
        self.row, self.index, self.errors = row, index, errors
        self.valid = True
        self.failed_fields: set[str] = set()

    def fail(self, field_name: str, reason: str) -> None:
        self.errors.add(self.index, field_name, reason)
        self.valid = False
        self.failed_fields.add(field_name)

    def external_id(self, name: str, required: bool = True) -> str | None:
        value = self.row.get(name)
        if value is None:
            if required:
                self.fail(name, _("This field is required."))
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.fail(name, _("Expected a string or integer id, got %(type)s.") % {"type": type(value).__name__})
            return None
        text = str(value).strip()
        if not text:
            self.fail(name, _("The id must not be empty."))
        elif NUL in text:
            self.fail(name, _("The id must not contain NUL (U+0000) characters."))
        elif len(text) > EXTERNAL_ID_LENGTH:
            self.fail(name, _("The id is longer than %(max)d characters.") % {"max": EXTERNAL_ID_LENGTH})
        return text

    def text(self, name: str, max_length: int | None = None, required: bool = False, default: str = "") -> str:
        value = self.row.get(name)
        if value is None:
            if required:
                self.fail(name, _("This field is required."))
            return default
        if not isinstance(value, str):
            self.fail(name, _("Expected a string, got %(type)s.") % {"type": type(value).__name__})
            return default
        if required and not value.strip():
            self.fail(name, _("This field must not be blank."))
        if NUL in value:
            self.fail(name, _("The text must not contain NUL (U+0000) characters."))
        if max_length is not None and len(value) > max_length:
            self.fail(name, _("Longer than %(max)d characters.") % {"max": max_length})
        return value

    def string_list(self, name: str) -> list[str]:
        value = self.row.get(name, [])
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
            self.fail(name, _("Expected a list of strings."))
            return []
        if _contains_nul(value):
            self.fail(name, _("The strings must not contain NUL (U+0000) characters."))
            return []
        return [entry.strip() for entry in value if entry.strip()]

    def mapping(self, name: str) -> dict:
        value = self.row.get(name, {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(name, _("Expected a JSON object."))
            return {}
        if _contains_nul(value):
            self.fail(name, _("Keys and strings must not contain NUL (U+0000) characters."))
            return {}
        return value

    def language(self, name: str) -> str:
        value = self.row.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(name, _("Expected a string, got %(type)s.") % {"type": type(value).__name__})
            return ""
        try:
            return normalise_language_tag(value)
        except InvalidLanguageTag:
            self.fail(
                name,
                _("%(value)r is not a BCP 47 language tag. Use a tag such as zh-Hans, zh, en or pt-BR, or leave the field out to detect it from the text.")
                % {"value": value},
            )
            return ""

    def boolean(self, name: str, default: bool) -> bool:
        value = self.row.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, _("Expected true or false."))
            return default
        return value

    def number(self, name: str) -> float | None:
        value = self.row.get(name)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                # A JSON integer can have more digits than any float holds.
                number = math.inf
            if math.isfinite(number):
                return number
        self.fail(name, _("Expected a finite number."))
        return None

    def timestamp(self, name: str, default: datetime) -> datetime:
        value = self.row.get(name)
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(float(value), tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                pass
        elif isinstance(value, str):
            parsed = _parse_iso(value)
            if parsed is not None:
                return parsed
        self.fail(name, _("Expected an ISO 8601 date-time or Unix seconds, got %(value)r.") % {"value": value})
        return default

    def uuid(self, name: str) -> uuid.UUID | None:
        value = self.row.get(name)
        if value is None:
            return None
        try:
            return uuid.UUID(str(value))
        except ValueError:
            self.fail(name, _("Expected a UUID, such as the recommendation_id of a response."))
            return None


def _parse_iso(value: str) -> datetime | None:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _check_batch(rows: Any, max_rows: int, errors: BatchErrors) -> bool:
    if not isinstance(rows, list):
        errors.add(-1, "(body)", _("Expected a JSON array of rows."))
        return False
    if not rows:
        errors.add(-1, "(body)", _("The batch is empty; send at least one row."))
        return False
    if len(rows) > max_rows:
        errors.add(-1, "(body)", _("The batch has %(count)d rows; send at most %(max)d per request.") % {"count": len(rows), "max": max_rows})
        return False
    return True


def _readers(rows: list, errors: BatchErrors):
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.add(index, "(row)", _("Expected a JSON object."))
            continue
        yield _RowReader(row, index, errors)


def _check_duplicate_ids(clean: list[dict], errors: BatchErrors) -> None:
    first_index: dict[str, int] = {}
    for row in clean:
        earlier = first_index.setdefault(row["id"], row["index"])
        if earlier != row["index"]:
            errors.add(row["index"], "id", _("Duplicate id %(id)r; row %(other)d has it too.") % {"id": row["id"], "other": earlier})


def validate_items(rows: Any, max_rows: int) -> tuple[list[dict], BatchErrors]:
    errors = BatchErrors()
    if not _check_batch(rows, max_rows, errors):
        return [], errors
    clean = []
    for reader in _readers(rows, errors):
        item = {
            "index": reader.index,
            "id": reader.external_id("id"),
            "title": reader.text("title", max_length=1000, required=True),
            "description": reader.text("description"),
            "tags": reader.string_list("tags"),
            "categories": reader.string_list("categories"),
            "attributes": reader.mapping("attributes"),
            "available": reader.boolean("available", True),
            "language": reader.language("language"),
        }
        if reader.valid:
            clean.append(item)
    _check_duplicate_ids(clean, errors)
    return clean, errors


def validate_users(rows: Any, max_rows: int) -> tuple[list[dict], BatchErrors]:
    errors = BatchErrors()
    if not _check_batch(rows, max_rows, errors):
        return [], errors
    clean = []
    for reader in _readers(rows, errors):
        user = {"index": reader.index, "id": reader.external_id("id"), "attributes": reader.mapping("attributes")}
        if reader.valid:
            clean.append(user)
    _check_duplicate_ids(clean, errors)
    return clean, errors


def validate_events(rows: Any, max_rows: int, now: datetime) -> tuple[list[dict], BatchErrors]:
    errors = BatchErrors()
    if not _check_batch(rows, max_rows, errors):
        return [], errors
    clean = []
    for reader in _readers(rows, errors):
        kind = reader.row.get("kind")
        if kind is None:
            reader.fail("kind", _("This field is required. Use one of: %(kinds)s.") % {"kinds": ", ".join(sorted(EVENT_KINDS))})
        elif kind not in EVENT_KINDS:
            reader.fail("kind", _("Unknown event kind %(kind)r. Use one of: %(kinds)s.") % {"kind": kind, "kinds": ", ".join(sorted(EVENT_KINDS))})
        event = {
            "index": reader.index,
            "kind": kind,
            "user_id": reader.external_id("user_id"),
            "item_id": reader.external_id("item_id", required=kind in EVENT_KINDS and kind != EventKind.SEARCH),
            "value": reader.number("value"),
            "timestamp": reader.timestamp("timestamp", now),
            "query": reader.text("query", max_length=settings.SEMREC_MAX_QUERY_LENGTH),
            "idempotency_key": reader.text("idempotency_key", max_length=255, default="") or None,
            "recommendation_id": reader.uuid("recommendation_id"),
        }
        if kind == EventKind.SEARCH and "query" not in reader.failed_fields and not event["query"].strip():
            reader.fail("query", _("A search event needs its query text (1 to %(max)d characters).") % {"max": settings.SEMREC_MAX_QUERY_LENGTH})
        if kind == EventKind.RATING and reader.row.get("value") is None:
            reader.fail("value", _("A rating event needs a numeric value."))
        if reader.valid:
            clean.append(event)
    return clean, errors
