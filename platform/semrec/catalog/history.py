"""Read users' histories as weighted interactions, using a strategy's options."""

from __future__ import annotations

import numpy as np

from semrec.plugins import HistoryEntry, InteractionData, SearchEntry
from semrec.strategies.options import StrategyOptions
from semrec.tenants.models import Tenant

from .models import Event, EventKind

SECONDS_PER_DAY = 86400.0


def load_history(user_pk: int, options: StrategyOptions) -> tuple[list[HistoryEntry], set[int]]:
    """Return the user's weighted history (newest first) and every item they touched.

    Only the newest ``options.history_limit`` events are weighed, but the
    second value contains every item the user ever touched, including those
    with zero weight (dislikes, low ratings), so none is recommended back.
    """
    events = Event.objects.filter(user_id=user_pk, item_id__isnull=False)
    rows = list(events.order_by("-timestamp").values_list("item_id", "kind", "value", "timestamp")[: options.history_limit])
    if len(rows) < options.history_limit:
        seen = {row[0] for row in rows}
    else:
        # Items older than the weighted history are still seen.
        seen = set(events.values_list("item_id", flat=True).distinct())
    return weigh_history(rows, options), seen


def load_searches(user_pk: int, options: StrategyOptions, newest: float | None = None) -> list[SearchEntry]:
    """Return the user's newest searches (newest first), weighted like other events.

    Ages count back from ``newest`` (Unix seconds), the user's newest item
    event, or from the newest search when that is later or unknown.
    """
    if options.search_history_limit == 0:
        return []
    rows = list(
        Event.objects.filter(user_id=user_pk, kind=EventKind.SEARCH)
        .order_by("-timestamp")
        .values_list("query", "timestamp")[: options.search_history_limit]
    )
    if not rows:
        return []
    newest = max(newest or 0.0, rows[0][1].timestamp())
    searches = []
    for query, timestamp in rows:
        age_days = (newest - timestamp.timestamp()) / SECONDS_PER_DAY
        weight = options.event_weight(EventKind.SEARCH, None, age_days)
        if weight > 0 and query:
            searches.append(SearchEntry(query, weight, timestamp.timestamp()))
    return searches


def load_histories(user_pks: list[int], options: StrategyOptions) -> dict[int, list[HistoryEntry]]:
    """Return the weighted histories of many users with one query.

    Each history is cut to ``options.history_limit`` events, like
    :func:`load_history`.
    """
    rows_by_user: dict[int, list] = {user_pk: [] for user_pk in user_pks}
    events = (
        Event.objects.filter(user_id__in=user_pks, item_id__isnull=False)
        .order_by("user_id", "-timestamp")
        .values_list("user_id", "item_id", "kind", "value", "timestamp")
    )
    for user_id, *row in events.iterator(chunk_size=20_000):
        rows = rows_by_user[user_id]
        if len(rows) < options.history_limit:
            rows.append(row)
    return {user_pk: weigh_history(rows, options) for user_pk, rows in rows_by_user.items()}


def weigh_history(rows, options: StrategyOptions) -> list[HistoryEntry]:
    """Weigh ``(item_id, kind, value, timestamp)`` rows, newest first, by kind and age."""
    if not rows:
        return []
    newest = rows[0][3]
    history = []
    for item_id, kind, value, timestamp in rows:
        age_days = (newest - timestamp).total_seconds() / SECONDS_PER_DAY
        history.append(HistoryEntry(item_id, options.event_weight(kind, value, age_days), timestamp.timestamp()))
    return history


def load_interactions(tenant: Tenant, options: StrategyOptions) -> InteractionData:
    """Return the tenant's positive interactions, weighted, for training."""
    rows = (
        Event.objects.filter(tenant=tenant, item_id__isnull=False)
        .order_by("user_id", "-timestamp")
        .values_list("user_id", "item_id", "kind", "value", "timestamp")
        .iterator(chunk_size=20_000)
    )
    users, items, weights, stamps = [], [], [], []
    current_user, newest = None, None
    for user_id, item_id, kind, value, timestamp in rows:
        if user_id != current_user:
            current_user, newest = user_id, timestamp
        weight = options.event_weight(kind, value, (newest - timestamp).total_seconds() / SECONDS_PER_DAY)
        if weight > 0:
            users.append(user_id)
            items.append(item_id)
            weights.append(weight)
            stamps.append(timestamp.timestamp())
    return InteractionData(
        user_ids=np.asarray(users, dtype=np.int64),
        item_ids=np.asarray(items, dtype=np.int64),
        weights=np.asarray(weights, dtype=np.float32),
        timestamps=np.asarray(stamps, dtype=np.float64),
    )
