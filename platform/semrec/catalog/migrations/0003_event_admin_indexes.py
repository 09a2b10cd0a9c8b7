"""Indexes for the admin's event list filters and for click-through attribution.

They are created with raw SQL and no model state, so they stay out of
``Event.Meta.indexes``; CONCURRENTLY keeps a large event table writable while
they build.
"""

from django.db import migrations


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("catalog", "0002_item_language")]

    operations = [
        # The event list filtered by kind, newest first, within the staff user's tenants.
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_event_tenant_kind_time ON catalog_event (tenant_id, kind, timestamp DESC)",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS catalog_event_tenant_kind_time",
        ),
        # A superuser's event list, newest first across all tenants; without it PostgreSQL sorts every event.
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_event_time ON catalog_event (timestamp DESC, id DESC)",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS catalog_event_time",
        ),
        # Events that cite a served list, for click-through per strategy. Most events cite none, so
        # the index is partial, and it includes the kind so the charts read it without the table.
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_event_recommendation "
            "ON catalog_event (tenant_id, recommendation_id) INCLUDE (kind) WHERE recommendation_id IS NOT NULL",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS catalog_event_recommendation",
        ),
    ]
