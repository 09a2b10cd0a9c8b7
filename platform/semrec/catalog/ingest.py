"""Writes validated batches of items, users and events.

The REST API and the dataset importers share these functions, so a row that
the API accepts and a row that an importer reads are stored the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from semrec.tenants.models import Tenant

from .language import resolve_language
from .models import Event, Item, User, item_text, text_hash
from .signals import items_saved
from .validation import BatchErrors

logger = logging.getLogger(__name__)

WRITE_BATCH = 5000
STAGING_TABLE = "semrec_event_staging"
EVENT_COLUMNS = (
    "tenant_id",
    "user_id",
    "item_id",
    "kind",
    "value",
    "timestamp",
    "query",
    "idempotency_key",
    "recommendation_id",
    "created_at",
)


@dataclass
class WriteResult:
    created: int = 0
    updated: int = 0
    duplicates: int = 0


def upsert_items(tenant: Tenant, rows: list[dict]) -> WriteResult:
    """Create or update items by external id; return how many of each."""
    existing = _existing_ids(Item, tenant, [row["id"] for row in rows])
    objects = [_item_object(tenant, row) for row in rows]
    with transaction.atomic():
        Item.objects.bulk_create(
            objects,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=["tenant", "external_id"],
            update_fields=[
                "title", "description", "tags", "categories", "attributes", "available", "language", "text_hash", "updated_at",
            ],
        )
    result = WriteResult(created=len(rows) - len(existing), updated=len(existing))
    logger.info("Tenant %s: %d items created, %d updated", tenant.slug, result.created, result.updated)
    # PostgreSQL returns the primary keys of upserted rows, so every object has one here.
    items_saved.send(sender=Item, tenant=tenant, item_pks=[item.pk for item in objects])
    return result


def _item_object(tenant: Tenant, row: dict) -> Item:
    """Build an unsaved item; a row without a declared language gets the one detected from its text."""
    text = item_text(row["title"], row["description"], row["tags"], row["categories"])
    language = resolve_language(row.get("language", ""), text)
    return Item(
        tenant=tenant,
        external_id=row["id"],
        title=row["title"],
        description=row["description"],
        tags=row["tags"],
        categories=row["categories"],
        attributes=row["attributes"],
        available=row["available"],
        language=language,
        text_hash=text_hash(text, language),
    )


def upsert_users(tenant: Tenant, rows: list[dict]) -> WriteResult:
    """Create or update end users by external id."""
    existing = _existing_ids(User, tenant, [row["id"] for row in rows])
    objects = [User(tenant=tenant, external_id=row["id"], attributes=row["attributes"]) for row in rows]
    with transaction.atomic():
        User.objects.bulk_create(
            objects,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=["tenant", "external_id"],
            update_fields=["attributes"],
        )
    return WriteResult(created=len(rows) - len(existing), updated=len(existing))


def resolve_event_references(tenant: Tenant, rows: list[dict], errors: BatchErrors) -> dict[str, int]:
    """Check that every event's item exists; return the item id map.

    Items must be added before events cite them; users are created on first
    sight, as clients often send events before user profiles.
    """
    item_ids = {row["item_id"] for row in rows if row["item_id"] is not None}
    items = dict(Item.objects.filter(tenant=tenant, external_id__in=item_ids).values_list("external_id", "id"))
    for row in rows:
        if row["item_id"] is not None and row["item_id"] not in items:
            errors.add(
                row["index"],
                "item_id",
                _("Item %(id)r does not exist. Add it with POST /api/v1/items/ before sending its events.") % {"id": row["item_id"]},
            )
    return items


def insert_events(tenant: Tenant, rows: list[dict], item_pks: dict[str, int]) -> WriteResult:
    """Insert events; rows whose idempotency key was seen before are skipped."""
    with transaction.atomic():
        user_pks = ensure_users(tenant, {row["user_id"] for row in rows})
        fresh, duplicates = _drop_replayed(tenant, rows)
        now = timezone.now()
        records = [
            (
                tenant.pk,
                user_pks[row["user_id"]],
                item_pks.get(row["item_id"]) if row["item_id"] is not None else None,
                row["kind"],
                row["value"],
                row["timestamp"],
                row["query"],
                row["idempotency_key"],
                row["recommendation_id"],
                now,
            )
            for row in fresh
        ]
        _copy_events(records)
    return WriteResult(created=len(fresh), duplicates=duplicates)


def _copy_events(records: list[tuple]) -> None:
    """Write event rows with COPY, many times faster than INSERT for large batches.

    COPY cannot skip conflicts, so rows go to a temporary staging table
    first. The final INSERT then skips any row whose idempotency key a
    concurrent request stored after :func:`_drop_replayed` checked.
    """
    columns = ", ".join(EVENT_COLUMNS)
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} ON COMMIT DELETE ROWS "
            f"AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {STAGING_TABLE} ({columns}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {STAGING_TABLE} ON CONFLICT DO NOTHING")
        cursor.execute(f"TRUNCATE {STAGING_TABLE}")


def ensure_users(tenant: Tenant, external_ids: Iterable[str]) -> dict[str, int]:
    """Return ``{external id: pk}``, creating the users that do not exist yet."""
    requested = set(external_ids)
    known = dict(User.objects.filter(tenant=tenant, external_id__in=requested).values_list("external_id", "id"))
    missing = requested - known.keys()
    if missing:
        # Sorted, so that new users get their ids in the same order on every run.
        User.objects.bulk_create(
            [User(tenant=tenant, external_id=external_id) for external_id in sorted(missing)],
            batch_size=WRITE_BATCH,
            ignore_conflicts=True,
        )
        known.update(User.objects.filter(tenant=tenant, external_id__in=missing).values_list("external_id", "id"))
    return known


def _drop_replayed(tenant: Tenant, rows: list[dict]) -> tuple[list[dict], int]:
    keys = [row["idempotency_key"] for row in rows if row["idempotency_key"]]
    with connection.cursor() as cursor:
        # One array parameter; Django's __in would inline thousands of literals.
        cursor.execute(
            f"SELECT idempotency_key FROM {Event._meta.db_table} WHERE tenant_id = %s AND idempotency_key = ANY(%s)",
            [tenant.pk, keys],
        )
        seen = {key for (key,) in cursor.fetchall()}
    fresh = []
    for row in rows:
        key = row["idempotency_key"]
        if key and key in seen:
            continue
        if key:
            seen.add(key)
        fresh.append(row)
    return fresh, len(rows) - len(fresh)


def _existing_ids(model, tenant: Tenant, external_ids: list[str]) -> set[str]:
    return set(model.objects.filter(tenant=tenant, external_id__in=external_ids).values_list("external_id", flat=True))
