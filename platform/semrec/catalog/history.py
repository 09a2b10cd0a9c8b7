"""Read users' histories as weighted interactions, using a strategy's options."""

from __future__ import annotations

import numpy as np

from semrec.plugins import HistoryEntry, InteractionData
from semrec.strategies.options import StrategyOptions
from semrec.tenants.models import Tenant

from .models import Event

SECONDS_PER_DAY = 86400.0


def load_history(user_pk: int, options: StrategyOptions) -> tuple[list[HistoryEntry], set[int]]:
    """Return the user's weighted history (newest first) and every item they touched.

    The second value includes items with zero weight (dislikes, low
    ratings), which are still "seen" and so never recommended back.
    """
    rows = list(
        Event.objects.filter(user_id=user_pk, item_id__isnull=False)
        .order_by("-timestamp")
        .values_list("item_id", "kind", "value", "timestamp")[: options.history_limit]
    )
    if not rows:
        return [], set()

    newest = rows[0][3]
    history = []
    for item_id, kind, value, timestamp in rows:
        age_days = (newest - timestamp).total_seconds() / SECONDS_PER_DAY
        weight = options.event_weight(kind, value, age_days)
        history.append(HistoryEntry(item_id, weight, timestamp.timestamp()))
    return history, {row[0] for row in rows}


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
