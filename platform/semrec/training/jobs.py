"""The work behind the encode and train tasks, shared by commands and Celery workers."""

from __future__ import annotations

import logging
import time

import numpy as np
from django.db import transaction

from semrec.catalog.history import load_histories, load_interactions
from semrec.catalog.models import Item, User, item_text
from semrec.strategies.models import Strategy
from semrec.strategies.plugins import build_plugins
from semrec.plugins import weighted_mean
from semrec.vectors.models import ItemVector, UserVector
from semrec.vectors.search import item_vectors
from semrec.vectors.spaces import get_or_create_space

from .models import ModelVersion, RunProgress

logger = logging.getLogger(__name__)

ENCODE_CHUNK = 1024
USER_CHUNK = 500


def encode_items(strategy: Strategy, progress: RunProgress, force: bool = False) -> dict:
    """Encode the tenant's items whose text changed, then rebuild user vectors."""
    plugins = build_plugins(strategy)
    space = get_or_create_space(strategy.tenant, plugins.encoder)

    encoded = dict(ItemVector.objects.filter(space=space).values_list("item_id", "text_hash"))
    items = Item.objects.filter(tenant=strategy.tenant).values_list("id", "text_hash", "title", "description", "tags", "categories")
    pending = [row for row in items.iterator(chunk_size=5000) if force or encoded.get(row[0]) != row[1]]
    logger.info("Strategy %s: %d items to encode in space %s", strategy.pk, len(pending), space.pk)

    started = time.perf_counter()
    progress.stage("encode items", len(pending))
    for start in range(0, len(pending), ENCODE_CHUNK):
        chunk = pending[start : start + ENCODE_CHUNK]
        texts = [item_text(title, description, tags, categories) for _, _, title, description, tags, categories in chunk]
        vectors = plugins.encoder.encode(texts, progress=lambda done, _total, offset=start: progress(offset + done, len(pending)))
        _save_item_vectors(space, chunk, vectors)
    encode_seconds = time.perf_counter() - started

    if pending:
        space.ensure_index()
    users = rebuild_user_vectors(strategy, space, progress)
    return {
        "space": space.pk,
        "items_encoded": len(pending),
        "encode_seconds": round(encode_seconds, 3),
        "items_per_second": round(len(pending) / encode_seconds, 1) if pending and encode_seconds else None,
        "user_vectors": users,
    }


def _save_item_vectors(space, chunk, vectors: np.ndarray) -> None:
    objects = [
        ItemVector(space=space, item_id=row[0], text_hash=row[1], embedding=vector)
        for row, vector in zip(chunk, vectors, strict=True)
    ]
    with transaction.atomic():
        ItemVector.objects.bulk_create(
            objects, update_conflicts=True, unique_fields=["space", "item"], update_fields=["embedding", "text_hash", "encoded_at"]
        )


def rebuild_user_vectors(strategy: Strategy, space, progress: RunProgress) -> int:
    """Store every user's vector: the weighted mean of their history's item vectors."""
    options = strategy.parsed_options()
    user_pks = list(User.objects.filter(tenant=strategy.tenant).order_by("pk").values_list("id", flat=True))
    progress.stage("rebuild user vectors", len(user_pks))
    for start in range(0, len(user_pks), USER_CHUNK):
        chunk = user_pks[start : start + USER_CHUNK]
        histories = load_histories(chunk, options)
        needed = {entry.item_id for history in histories.values() for entry in history if entry.weight > 0}
        vectors = item_vectors(space, list(needed))
        rows = []
        for user_pk, history in histories.items():
            vector = weighted_mean(history, vectors)
            if vector is not None:
                rows.append(UserVector(space=space, user_id=user_pk, embedding=vector))
        UserVector.objects.bulk_create(rows, update_conflicts=True, unique_fields=["space", "user"], update_fields=["embedding", "updated_at"])
        progress(start + len(chunk), len(user_pks))
    return len(user_pks)


def train_strategy(strategy: Strategy, progress: RunProgress) -> dict:
    """Fit every trainable plugin of the strategy and activate the new versions."""
    plugins = build_plugins(strategy)
    if not plugins.trainables:
        return {"trained": []}

    progress.stage("load interactions", 1)
    data = load_interactions(strategy.tenant, strategy.parsed_options())
    progress(1, 1)
    if len(data) == 0:
        raise ValueError(
            f"Tenant '{strategy.tenant.slug}' has no positive interactions to train on. "
            "Import or send events first."
        )

    trained = []
    for role, instances in plugins.trainables.items():
        plugin = instances[0]
        progress.stage(f"train {plugin.id}", 0)
        started = time.perf_counter()
        metrics = plugin.fit(data, progress=progress)
        metrics["train_seconds"] = round(time.perf_counter() - started, 3)
        version = ModelVersion.objects.create(
            tenant=strategy.tenant,
            strategy=strategy,
            role=role,
            plugin_id=plugin.id,
            plugin_version=plugin.version,
            artifact=plugin.dump(),
            metrics=metrics,
        )
        version.activate()
        logger.info("Strategy %s: trained %s as model version %s in %.1fs", strategy.pk, plugin.id, version.pk, metrics["train_seconds"])
        trained.append({"role": role, "model_version": version.pk, **metrics})
    return {"trained": trained}
