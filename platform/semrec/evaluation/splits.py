"""Split a tenant's events into training and held-out parts.

The unit of a split is the user-item pair. All events of one user on one
item (a view, a click and a purchase, say) go to the same side, so a
held-out item never leaks into training through another event kind.

- ``leave_last_out``: each user's pair with the newest event is held out;
  users with a single pair keep it for training.
- ``random_by_user`` and ``random_by_item``: within each user (or item) the
  pairs are shuffled with the seed and the first ``round(train_ratio * n)``
  are kept for training (halves round up). Microsoft Recommenders'
  ``python_stratified_split`` splits the same way.
- ``random``: pairs are shuffled together and ``round(train_ratio * n)``
  are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import EventTable
from .protocol import SplitProtocol


@dataclass(frozen=True)
class Pairs:
    """The distinct user-item pairs of an event table, and which pair each event belongs to."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    newest: np.ndarray
    of_event: np.ndarray

    def __len__(self) -> int:
        return len(self.user_ids)


def find_pairs(events: EventTable) -> Pairs:
    keys = np.stack([events.user_ids, events.item_ids])
    unique, of_event = np.unique(keys, axis=1, return_inverse=True)
    of_event = of_event.reshape(-1)
    newest = np.full(unique.shape[1], -np.inf)
    np.maximum.at(newest, of_event, events.timestamps)
    return Pairs(unique[0], unique[1], newest, of_event)


def split_pairs(pairs: Pairs, protocol: str, train_ratio: float, seed: int) -> np.ndarray:
    """Return a boolean array that is True for the pairs kept for training."""
    rng = np.random.default_rng(seed)
    shuffle = rng.permutation(len(pairs))
    if protocol == SplitProtocol.LEAVE_LAST_OUT:
        return _leave_last_out(pairs, shuffle)
    if protocol == SplitProtocol.RANDOM:
        return _first_share(np.zeros(len(pairs), dtype=np.int64), shuffle, train_ratio)
    groups = pairs.user_ids if protocol == SplitProtocol.RANDOM_BY_USER else pairs.item_ids
    return _first_share(groups, shuffle, train_ratio)


def _first_share(groups: np.ndarray, shuffle: np.ndarray, train_ratio: float) -> np.ndarray:
    """Keep the first ``round(train_ratio * size)`` pairs of each group in shuffled order."""
    # Sort by group, and within a group by the shuffled position.
    rank = np.empty_like(shuffle)
    rank[shuffle] = np.arange(len(shuffle))
    order = np.lexsort((rank, groups))
    _, starts, sizes = np.unique(groups[order], return_index=True, return_counts=True)
    keep = np.floor(train_ratio * sizes + 0.5).astype(np.int64)

    offsets = np.arange(len(order)) - np.repeat(starts, sizes)
    train = np.zeros(len(order), dtype=bool)
    train[order] = offsets < np.repeat(keep, sizes)
    return train


def _leave_last_out(pairs: Pairs, shuffle: np.ndarray) -> np.ndarray:
    """Hold out each user's newest pair; equal times are broken by the seeded shuffle."""
    rank = np.empty_like(shuffle)
    rank[shuffle] = np.arange(len(shuffle))
    order = np.lexsort((rank, -pairs.newest, pairs.user_ids))
    _, starts, sizes = np.unique(pairs.user_ids[order], return_index=True, return_counts=True)
    train = np.ones(len(pairs), dtype=bool)
    held_out = order[starts[sizes > 1]]
    train[held_out] = False
    return train


@dataclass(frozen=True)
class Split:
    """A training part and a held-out part of one event table."""

    train: EventTable
    held_out: EventTable


def split_events(events: EventTable, protocol: str, train_ratio: float, seed: int) -> Split:
    pairs = find_pairs(events)
    train_pairs = split_pairs(pairs, protocol, train_ratio, seed)
    in_train = train_pairs[pairs.of_event]
    return Split(train=events.subset(in_train), held_out=events.subset(~in_train))


def relevant_items(held_out: EventTable, min_rating: float | None) -> dict[int, set[int]]:
    """Return each user's relevant held-out items."""
    relevant = held_out.relevant(min_rating)
    by_user: dict[int, set[int]] = {}
    for user_id, item_id in zip(held_out.user_ids[relevant].tolist(), held_out.item_ids[relevant].tolist(), strict=True):
        by_user.setdefault(user_id, set()).add(item_id)
    return by_user
