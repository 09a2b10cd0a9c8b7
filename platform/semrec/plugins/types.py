"""Plain data passed between the core and plugins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: Called by long-running plugin methods as ``progress(done, total)``.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ScoredItem:
    """One candidate item with its score. ``details`` contains the score's parts by signal."""

    item_id: int
    score: float
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryEntry:
    """One positive interaction of the user: item, weight and Unix timestamp."""

    item_id: int
    weight: float
    timestamp: float


@dataclass(frozen=True)
class SearchEntry:
    """One search of the user: query text, weight and Unix timestamp."""

    query: str
    weight: float
    timestamp: float


@dataclass(frozen=True)
class Evidence:
    """An item from the user's history that supports a recommendation."""

    item_id: int
    similarity: float


@dataclass(frozen=True)
class Explanation:
    """Why one item was recommended: a readable reason and its evidence."""

    item_id: int
    reason: str
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class PluginRef:
    """A reference from one plugin's configuration to another plugin."""

    id: str
    config: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0


@dataclass(frozen=True)
class IntentPrediction:
    """Intent vectors (one row per input) and, when known, intent distributions."""

    vectors: np.ndarray
    distributions: list[dict[str, float]] | None = None


@dataclass
class InteractionData:
    """Weighted user-item interactions that trainable plugins learn from.

    Ids are the core's internal integer ids; ``timestamps`` are Unix seconds.
    ``item_vectors`` maps item ids to their unit vectors in the strategy's
    embedding space, for plugins that learn from item text as well. It is
    None when the core passes no vectors.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    weights: np.ndarray
    timestamps: np.ndarray
    item_vectors: dict[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.user_ids)

    def to_csr(self):
        """Return ``(matrix, user_index, item_index)``, summing repeated pairs.

        ``matrix[i, j]`` is the weight of ``user_index[i]`` on ``item_index[j]``.
        """
        from scipy.sparse import csr_matrix

        user_index, user_rows = np.unique(self.user_ids, return_inverse=True)
        item_index, item_cols = np.unique(self.item_ids, return_inverse=True)
        matrix = csr_matrix(
            (self.weights.astype(np.float32), (user_rows, item_cols)),
            shape=(len(user_index), len(item_index)),
        )
        matrix.sum_duplicates()
        return matrix, user_index, item_index


@dataclass
class IntentExamples:
    """Training examples for intent models, built by the core from a tenant's events.

    Row ``i`` describes one engagement with an item. It has the user's
    vector from the history before it and the vector of the query that led
    to it (zeros when none did). Its target is a distribution over
    ``labels`` that gives each of the item's categories an equal share, and
    ``item_vectors`` has the engaged item's own vector. ``centroids[j]`` is the normalised mean
    vector of the items labelled ``labels[j]``. Rows are in time order.
    """

    user_vectors: np.ndarray
    query_vectors: np.ndarray
    targets: np.ndarray
    labels: list[str]
    centroids: np.ndarray
    timestamps: np.ndarray
    item_vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.targets)
