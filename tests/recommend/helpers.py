"""Helpers shared by the recommendation pipeline tests."""

from datetime import datetime, timezone

from semrec.catalog import ingest, validation
from semrec.catalog.models import User


def get_user(tenant, external_id):
    return User.objects.get(tenant=tenant, external_id=external_id)


def result_ids(result):
    return [row["id"] for row in result.items]


def send_events(tenant, rows):
    """Validate and insert event rows as the API would, failing the test on any invalid row."""
    clean, errors = validation.validate_events(rows, 10_000, datetime.now(timezone.utc))
    item_pks = ingest.resolve_event_references(tenant, clean, errors)
    assert not errors, errors.errors
    ingest.insert_events(tenant, clean, item_pks)
