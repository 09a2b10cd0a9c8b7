"""Build intent-model training examples from a tenant's events.

Each positive engagement with a categorised item becomes one example: the
user's vector from the events before it, the query that led to it, and the
item's categories. The user vector is kept as a running sum decayed by the
strategy's half-life, which equals the weighted mean that serving computes
over the same history (up to its length limit).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db.models import Q

from semrec.catalog.models import Event, EventKind, Item
from semrec.plugins import IntentExamples, normalise
from semrec.strategies.options import StrategyOptions
from semrec.vectors.search import item_vectors

logger = logging.getLogger(__name__)

#: A search is taken as the query behind the user's item events within this many seconds after it.
SEARCH_SESSION_SECONDS = 30 * 60
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class EventRow:
    """One event as the example builder reads it, in (user, time) order."""

    user_id: int
    item_id: int | None
    kind: str
    value: float | None
    timestamp: float
    query: str


def load_intent_examples(strategy, space, encoder, max_examples: int = 500_000) -> IntentExamples:
    """Return the examples of the strategy's tenant, with vectors from ``space`` and queries from ``encoder``."""
    tenant = strategy.tenant
    categories = {
        pk: list(cats)
        for pk, cats in Item.objects.filter(tenant=tenant).exclude(categories=[]).order_by("pk").values_list("pk", "categories")
    }
    vectors = item_vectors(space, list(categories))
    events = (
        Event.objects.filter(tenant=tenant)
        .filter(Q(item__isnull=False) | Q(kind=EventKind.SEARCH))
        .order_by("user_id", "timestamp", "pk")
        .values_list("user_id", "item_id", "kind", "value", "timestamp", "query")
        .iterator(chunk_size=20_000)
    )
    rows = (EventRow(user, item, kind, value, stamp.timestamp(), query or "") for user, item, kind, value, stamp, query in events)
    return build_intent_examples(
        rows,
        item_vectors=vectors,
        item_categories=categories,
        encode_queries=encoder.encode_queries,
        options=strategy.parsed_options(),
        dimension=encoder.dimension,
        max_examples=max_examples,
    )


def build_intent_examples(
    rows: Iterable[EventRow],
    *,
    item_vectors: dict[int, np.ndarray],
    item_categories: dict[int, list[str]],
    encode_queries: Callable[[Sequence[str]], np.ndarray],
    options: StrategyOptions,
    dimension: int,
    max_examples: int = 500_000,
) -> IntentExamples:
    """Turn events, sorted by user and then time, into intent examples (newest ``max_examples`` kept)."""
    # NOTE: every event is held in memory at once; fine up to a few million.
    rows = list(rows)
    queries = sorted({row.query for row in rows if row.query})
    query_vectors = dict(zip(queries, encode_queries(queries), strict=True)) if queries else {}
    labels = sorted({label for cats in item_categories.values() for label in cats})
    label_index = {label: index for index, label in enumerate(labels)}

    users, query_rows, items, targets, stamps = [], [], [], [], []
    for user_vector, query, item_id, timestamp in _engagements(rows, item_vectors, query_vectors, options, dimension):
        categories = item_categories.get(item_id)
        if not categories:
            continue
        target = np.zeros(len(labels), dtype=np.float32)
        target[[label_index[label] for label in categories]] = 1.0 / len(categories)
        users.append(user_vector)
        query_rows.append(query)
        items.append(item_vectors[item_id])
        targets.append(target)
        stamps.append(timestamp)

    order = np.argsort(np.asarray(stamps, dtype=np.float64), kind="stable")[-max_examples:]
    logger.info("Built %d intent examples over %d labels from %d events", len(order), len(labels), len(rows))
    return IntentExamples(
        user_vectors=_stack(users, order, dimension),
        query_vectors=_stack(query_rows, order, dimension),
        targets=_stack(targets, order, len(labels)),
        labels=labels,
        centroids=_centroids(labels, item_vectors, item_categories, dimension),
        timestamps=np.asarray(stamps, dtype=np.float64)[order],
        item_vectors=_stack(items, order, dimension),
    )


def _engagements(rows, item_vectors, query_vectors, options: StrategyOptions, dimension: int):
    """Yield ``(user vector before, query vector, item id, timestamp)`` for each positive item event.

    Events whose user has neither history nor a query yet are skipped,
    because nothing shows what the user was after.
    """
    zero = np.zeros(dimension, dtype=np.float32)
    current_user = None
    for row in rows:
        if row.user_id != current_user:
            current_user, running, last_time = row.user_id, np.zeros(dimension, dtype=np.float64), row.timestamp
            last_query, last_query_time = "", -math.inf
        running *= _decay(row.timestamp - last_time, options)
        last_time = row.timestamp
        weight = options.event_weight(row.kind, row.value, 0.0)

        if row.kind == EventKind.SEARCH:
            if row.query in query_vectors and weight > 0:
                running += weight * query_vectors[row.query]
            last_query, last_query_time = row.query, row.timestamp
            continue

        vector = item_vectors.get(row.item_id)
        if weight <= 0 or vector is None:
            continue
        query = row.query or (last_query if row.timestamp - last_query_time <= SEARCH_SESSION_SECONDS else "")
        user_vector = normalise(running.astype(np.float32))
        if user_vector is not None or query:
            query_vector = query_vectors.get(query, zero) if query else zero
            yield (user_vector if user_vector is not None else zero), query_vector, row.item_id, row.timestamp
        running += weight * vector


def _decay(seconds: float, options: StrategyOptions) -> float:
    if not options.half_life_days or seconds <= 0:
        return 1.0
    return math.pow(0.5, seconds / SECONDS_PER_DAY / options.half_life_days)


def _stack(rows: list[np.ndarray], order: np.ndarray, width: int) -> np.ndarray:
    if not rows:
        return np.zeros((0, width), dtype=np.float32)
    return np.stack(rows).astype(np.float32)[order]


def _centroids(labels, item_vectors, item_categories, dimension: int) -> np.ndarray:
    """Return the normalised mean vector of each label's items (zeros for a label with no vectors)."""
    sums = np.zeros((len(labels), dimension), dtype=np.float64)
    label_index = {label: index for index, label in enumerate(labels)}
    for item_id, categories in item_categories.items():
        vector = item_vectors.get(item_id)
        if vector is None:
            continue
        for label in categories:
            sums[label_index[label]] += vector
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (sums / norms).astype(np.float32)
