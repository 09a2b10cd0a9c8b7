"""Embedding spaces and the item and user vectors that live in them.

Spaces of different encoders have different dimensions, so the vector column
has none fixed. Each space gets its own partial HNSW index over
``embedding::vector(dimension)``, and the serving query uses exactly that
expression and ``space_id`` filter so the planner can pick the index.
"""

from __future__ import annotations

import hashlib
import json

from django.db import connection, models
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from semrec.catalog.models import Item, User
from semrec.tenants.models import Tenant


def config_fingerprint(plugin_id: str, config: dict) -> str:
    """Return a stable hash of a plugin id and its configuration."""
    payload = json.dumps({"id": plugin_id, "config": config}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def plugin_fingerprint(plugin) -> str:
    """Return the fingerprint of a plugin instance's id and the options set away from their defaults.

    Defaults are left out, so a plugin release that adds an option keeps
    the spaces and model versions built before it.
    """
    return config_fingerprint(plugin.id, plugin.config.model_dump(mode="json", exclude_defaults=True))


class EmbeddingSpace(models.Model):
    """One encoder with one configuration, for one tenant.

    ``encoder_id``, ``encoder_config`` and, for an encoder fitted on item
    texts, ``model_version`` are enough to rebuild the encoder that produced
    the space's vectors, so a space can keep serving (query encoding
    included) after its strategy names another encoder.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="spaces", verbose_name=_("tenant"))
    encoder_id = models.CharField(_("encoder"), max_length=100)
    encoder_config = models.JSONField(_("encoder configuration"), default=dict)
    fingerprint = models.CharField(_("fingerprint"), max_length=16, editable=False)
    model_name = models.CharField(_("model name"), max_length=500)
    dimension = models.PositiveIntegerField(_("dimension"))
    # Deleting a fit deletes its space, because nothing can encode queries for it any more.
    model_version = models.ForeignKey(
        "training.ModelVersion",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="spaces",
        verbose_name=_("model version"),
        help_text=_("The fitted state of the encoder, for encoders that learn from item texts."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    completed_at = models.DateTimeField(
        _("completed at"),
        null=True,
        blank=True,
        help_text=_("When an encode run first finished encoding every item into this space; empty while it is being built."),
    )

    class Meta:
        verbose_name = _("embedding space")
        verbose_name_plural = _("embedding spaces")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "fingerprint"], name="vectors_space_unique_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug}: {self.encoder_id} ({self.model_name}, {self.dimension}d)"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    @property
    def index_name(self) -> str:
        return f"vectors_itemvector_hnsw_space_{self.pk}"

    def ensure_index(self) -> None:
        """Create this space's HNSW index on item vectors unless a valid one exists.

        Outside a transaction the index is built CONCURRENTLY, so other
        tenants can keep writing item vectors during a long build. A
        concurrent build that failed leaves an invalid index behind, which
        is dropped and built again.
        """
        definition = (
            f"{self.index_name} ON {ItemVector._meta.db_table} "
            f"USING hnsw ((embedding::vector({int(self.dimension)})) vector_cosine_ops) "
            f"WHERE space_id = {int(self.pk)}"
        )
        with connection.cursor() as cursor:
            if connection.in_atomic_block:
                # Django's foreign keys are deferred; PostgreSQL refuses CREATE
                # INDEX while checks of rows written in this transaction are pending.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {definition}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                return

            if self._index_is_invalid(cursor):
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {self.index_name}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {definition}")

    def _index_is_invalid(self, cursor) -> bool:
        cursor.execute(
            "SELECT NOT index.indisvalid FROM pg_index AS index JOIN pg_class AS class ON class.oid = index.indexrelid "
            "WHERE class.relname = %s",
            [self.index_name],
        )
        row = cursor.fetchone()
        return bool(row and row[0])


class ItemVector(models.Model):
    """An item's vector in one space; the space records the encoder and model that produced it."""

    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="item_vectors")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="vectors")
    embedding = VectorField()
    text_hash = models.CharField(max_length=64)
    encoded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("item vector")
        verbose_name_plural = _("item vectors")
        constraints = [models.UniqueConstraint(fields=["space", "item"], name="vectors_itemvector_unique")]


class UserVector(models.Model):
    """A user's vector in one space: the weighted mean of their history's item vectors there."""

    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="user_vectors")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="vectors")
    embedding = VectorField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("user vector")
        verbose_name_plural = _("user vectors")
        constraints = [models.UniqueConstraint(fields=["space", "user"], name="vectors_uservector_unique")]
