"""The scoring context, served from PostgreSQL and pgvector."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
from django.db.models import Count

from semrec.catalog.models import Event, Item
from semrec.plugins import Encoder, ScoringContext
from semrec.vectors import search
from semrec.vectors.models import EmbeddingSpace

from .queries import query_vectors

POPULARITY_CACHE_SECONDS = 60.0
# NOTE: only the top POPULARITY_POOL items are cached per tenant, so a user
# who has seen nearly all of them gets a short popularity list.
POPULARITY_POOL = 2000

_popularity_lock = threading.Lock()
_popularity_cache: dict[tuple[int, float | None], tuple[float, list[tuple[int, float]]]] = {}


class DatabaseContext(ScoringContext):
    def __init__(self, *, space: EmbeddingSpace | None, encoder: Encoder | None = None, **kwargs):
        super().__init__(**kwargs)
        self.space = space
        self.encoder = encoder
        self._vector_cache: dict[int, np.ndarray] = {}

    def nearest_items(self, vector, k):
        if self.space is None:
            return []
        return search.nearest_items(self.space, vector, k, sorted(self.exclude))

    def item_vectors(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        if self.space is None:
            return {}
        missing = [item_id for item_id in item_ids if item_id not in self._vector_cache]
        if missing:
            self._vector_cache.update(search.item_vectors(self.space, missing))
        return {item_id: self._vector_cache[item_id] for item_id in item_ids if item_id in self._vector_cache}

    def query_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if self.encoder is None:
            return {}
        return query_vectors(self.encoder, texts)

    def popular_items(self, k, window_days=None):
        ranked = tenant_popularity(self.tenant_id, window_days)
        return [(item_id, count) for item_id, count in ranked if item_id not in self.exclude][:k]


def tenant_popularity(tenant_id: int, window_days: float | None) -> list[tuple[int, float]]:
    """Return the tenant's most popular available items, cached for a minute per process."""
    key = (tenant_id, window_days)
    now = time.monotonic()
    with _popularity_lock:
        cached = _popularity_cache.get(key)
        if cached is not None and now - cached[0] < POPULARITY_CACHE_SECONDS:
            return cached[1]

    events = Event.objects.filter(tenant_id=tenant_id, item__isnull=False, item__available=True)
    if window_days:
        newest = Event.objects.filter(tenant_id=tenant_id).order_by("-timestamp").values_list("timestamp", flat=True).first()
        if newest is not None:
            events = events.filter(timestamp__gte=newest - _days(window_days))
    ranked = [
        (item_id, float(count))
        for item_id, count in events.values("item_id").annotate(count=Count("id")).order_by("-count", "item_id").values_list("item_id", "count")[:POPULARITY_POOL]
    ]
    with _popularity_lock:
        _popularity_cache[key] = (now, ranked)
    return ranked


def clear_popularity_cache() -> None:
    with _popularity_lock:
        _popularity_cache.clear()


def _days(days: float):
    from datetime import timedelta

    return timedelta(days=days)


def item_titles(item_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Return ``{pk: (external id, title)}``."""
    return {pk: (external_id, title) for pk, external_id, title in Item.objects.filter(pk__in=item_ids).values_list("pk", "external_id", "title")}
