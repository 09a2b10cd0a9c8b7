"""A tenant's item events as arrays, and what strategies learn from them.

Evaluation reads the events once and then works in memory. Training data
and histories are weighed with the strategy's own options, exactly like
``semrec.catalog.history`` weighs them from the database, so a strategy is
evaluated on the inputs that serving would give it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semrec.catalog.models import Event, EventKind
from semrec.plugins import HistoryEntry, InteractionData
from semrec.strategies.options import StrategyOptions
from semrec.tenants.models import Tenant

SECONDS_PER_DAY = 86400.0

#: Event kinds that never make a held-out item relevant.
NOT_RELEVANT_KINDS = frozenset({EventKind.DISLIKE, EventKind.SEARCH})


@dataclass(frozen=True)
class EventTable:
    """Item events as parallel arrays: user and item pks, kind, value (NaN when none), Unix seconds."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    kinds: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.user_ids)

    def subset(self, mask: np.ndarray) -> EventTable:
        return EventTable(self.user_ids[mask], self.item_ids[mask], self.kinds[mask], self.values[mask], self.timestamps[mask])

    def relevant(self, min_rating: float | None) -> np.ndarray:
        """Return which events make their item relevant when held out."""
        relevant = ~np.isin(self.kinds, [str(kind) for kind in NOT_RELEVANT_KINDS])
        if min_rating is not None:
            ratings = self.kinds == EventKind.RATING
            relevant &= ~ratings | (np.nan_to_num(self.values, nan=-np.inf) >= min_rating)
        return relevant


def load_events(tenant: Tenant) -> EventTable:
    """Read every event of ``tenant`` that names an item, oldest first."""
    rows = (
        Event.objects.filter(tenant=tenant, item_id__isnull=False)
        .order_by("timestamp", "pk")
        .values_list("user_id", "item_id", "kind", "value", "timestamp")
        .iterator(chunk_size=20_000)
    )
    users, items, kinds, values, stamps = [], [], [], [], []
    for user_id, item_id, kind, value, timestamp in rows:
        users.append(user_id)
        items.append(item_id)
        kinds.append(kind)
        values.append(np.nan if value is None else value)
        stamps.append(timestamp.timestamp())
    return EventTable(
        user_ids=np.asarray(users, dtype=np.int64),
        item_ids=np.asarray(items, dtype=np.int64),
        kinds=np.asarray(kinds, dtype=object),
        values=np.asarray(values, dtype=np.float64),
        timestamps=np.asarray(stamps, dtype=np.float64),
    )


class TrainingData:
    """The training part of a split, weighed per strategy options and grouped by user."""

    def __init__(self, events: EventTable):
        self.events = events
        # Newest first within each user, as the history readers order them.
        self._order = np.lexsort((-events.timestamps, events.user_ids))
        users = events.user_ids[self._order]
        self._user_ids, self._starts = np.unique(users, return_index=True)
        self._stops = np.append(self._starts[1:], len(users))
        self._weights: dict[str, np.ndarray] = {}

    @property
    def user_count(self) -> int:
        return len(self._user_ids)

    def weights(self, options: StrategyOptions) -> np.ndarray:
        """Return each event's weight, aged from its user's newest training event (cached per options)."""
        key = options.model_dump_json()
        if key not in self._weights:
            self._weights[key] = self._weigh(options)
        return self._weights[key]

    def _weigh(self, options: StrategyOptions) -> np.ndarray:
        weights = np.zeros(len(self.events))
        stamps, kinds, values = self.events.timestamps, self.events.kinds, self.events.values
        for start, stop in zip(self._starts, self._stops, strict=True):
            rows = self._order[start:stop]
            newest = stamps[rows[0]]
            for row in rows:
                value = None if np.isnan(values[row]) else float(values[row])
                weights[row] = options.event_weight(kinds[row], value, (newest - stamps[row]) / SECONDS_PER_DAY)
        return weights

    def interactions(self, options: StrategyOptions, item_vectors: dict[int, np.ndarray] | None) -> InteractionData:
        """Return the positive interactions that trainable plugins fit on."""
        weights = self.weights(options)
        positive = weights > 0
        return InteractionData(
            user_ids=self.events.user_ids[positive],
            item_ids=self.events.item_ids[positive],
            weights=weights[positive].astype(np.float32),
            timestamps=self.events.timestamps[positive],
            item_vectors=item_vectors,
        )

    def history(self, user_id: int, options: StrategyOptions) -> tuple[list[HistoryEntry], set[int]]:
        """Return the user's newest ``history_limit`` entries and every item they touched in training."""
        position = np.searchsorted(self._user_ids, user_id)
        if position == len(self._user_ids) or self._user_ids[position] != user_id:
            return [], set()
        rows = self._order[self._starts[position] : self._stops[position]]
        weights = self.weights(options)
        history = [
            HistoryEntry(int(self.events.item_ids[row]), float(weights[row]), float(self.events.timestamps[row]))
            for row in rows[: options.history_limit]
        ]
        return history, {int(item_id) for item_id in self.events.item_ids[rows]}

    def users_per_item(self) -> dict[int, int]:
        """Return how many distinct training users touched each item."""
        pairs = np.unique(np.stack([self.events.user_ids, self.events.item_ids]), axis=1)
        items, counts = np.unique(pairs[1], return_counts=True)
        return dict(zip(items.tolist(), counts.tolist(), strict=True))
