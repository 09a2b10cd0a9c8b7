"""The scoring context: everything a scorer or explainer may ask the core for.

Plugins never query the database themselves. The core builds one context per
request and serves these calls from pgvector and the event log.
:class:`InMemoryContext` serves them from arrays, for plugin tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property

import numpy as np

from .types import HistoryEntry, SearchEntry


class ScoringContext(ABC):
    """One request's view of a user, their history and the catalogue."""

    def __init__(
        self,
        *,
        tenant_id: int,
        strategy_id: int | None,
        user_id: int | None,
        history: Sequence[HistoryEntry],
        exclude: Iterable[int] = (),
        query_text: str | None = None,
        searches: Sequence[SearchEntry] = (),
    ):
        self.tenant_id = tenant_id
        self.strategy_id = strategy_id
        self.user_id = user_id
        self.history = list(history)
        self.searches = list(searches)
        self.exclude = frozenset(exclude)
        self.query_text = query_text
        self.query_vector: np.ndarray | None = None
        self.intent_vector: np.ndarray | None = None
        #: Id of the intent model that set ``intent_vector``, when one did.
        self.intent_model_id: str | None = None
        self.intent_distribution: dict[str, float] | None = None

    @cached_property
    def user_vector(self) -> np.ndarray | None:
        """Weighted, normalised mean of the history's item and query vectors, or None."""
        if not self.history and not self.searches:
            return None
        vectors = self.item_vectors([entry.item_id for entry in self.history if entry.weight > 0])
        queries = [entry.query for entry in self.searches if entry.weight > 0]
        return weighted_mean(self.history, vectors, self.searches, self.query_vectors(queries) if queries else {})

    @property
    def retrieval_vector(self) -> np.ndarray | None:
        """The intent vector when an intent model ran, else the user vector."""
        if self.intent_vector is not None:
            return self.intent_vector
        return self.user_vector

    @abstractmethod
    def nearest_items(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(item_id, cosine similarity)`` pairs, best first.

        Excluded and unavailable items are left out.
        """

    @abstractmethod
    def item_vectors(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Return the vectors of those items that have one."""

    def query_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the encoder's vector of each query text; contexts without an encoder return none."""
        return {}

    @abstractmethod
    def popular_items(self, k: int, window_days: float | None = None) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(item_id, interaction count)`` pairs, most popular first.

        With ``window_days``, count only interactions from that many days
        before the tenant's newest event. Excluded and unavailable items are
        left out.
        """


def weighted_mean(
    history: Sequence[HistoryEntry],
    vectors: Mapping[int, np.ndarray],
    searches: Sequence[SearchEntry] = (),
    query_vectors: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray | None:
    """Return the normalised weighted mean of the history's item and query vectors, or None.

    Entries with no vector or a weight of zero or less are left out.
    """
    rows = [(vectors[entry.item_id], entry.weight) for entry in history if entry.weight > 0 and entry.item_id in vectors]
    if searches and query_vectors:
        rows += [(query_vectors[entry.query], entry.weight) for entry in searches if entry.weight > 0 and entry.query in query_vectors]
    if not rows:
        return None
    stacked = np.stack([vector for vector, _ in rows])
    weights = np.array([weight for _, weight in rows], dtype=np.float32)
    return normalise(weights @ stacked)


def normalise(vector: np.ndarray) -> np.ndarray | None:
    """Return ``vector`` scaled to unit length, or None for a zero vector."""
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        return None
    return (vector / norm).astype(np.float32)


class InMemoryContext(ScoringContext):
    """A context over in-memory arrays, for tests and plugin development."""

    def __init__(
        self,
        *,
        item_vectors: Mapping[int, np.ndarray],
        interactions: Sequence[tuple[int, int, float]] = (),
        unavailable: Iterable[int] = (),
        newest_timestamp: float | None = None,
        query_encoder: Callable[[str], np.ndarray] | None = None,
        **kwargs,
    ):
        super().__init__(tenant_id=kwargs.pop("tenant_id", 0), strategy_id=kwargs.pop("strategy_id", None), **kwargs)
        self._vectors = {item_id: np.asarray(v, dtype=np.float32) for item_id, v in item_vectors.items()}
        self._interactions = list(interactions)
        self._unavailable = frozenset(unavailable)
        self._newest = newest_timestamp
        self._query_encoder = query_encoder

    def _allowed(self, item_id: int) -> bool:
        return item_id not in self.exclude and item_id not in self._unavailable

    def nearest_items(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        scored = [
            (item_id, float(np.dot(candidate, vector)))
            for item_id, candidate in self._vectors.items()
            if self._allowed(item_id)
        ]
        scored.sort(key=lambda pair: pair[1], reverse=True)
        return scored[:k]

    def item_vectors(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {item_id: self._vectors[item_id] for item_id in item_ids if item_id in self._vectors}

    def query_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if self._query_encoder is None:
            return {}
        return {text: np.asarray(self._query_encoder(text), dtype=np.float32) for text in texts}

    def popular_items(self, k: int, window_days: float | None = None) -> list[tuple[int, float]]:
        # ``interactions`` rows are (user_id, item_id, timestamp).
        newest = self._newest or max((row[2] for row in self._interactions), default=0.0)
        since = newest - window_days * 86400 if window_days else float("-inf")
        counts: dict[int, float] = {}
        for _, item_id, timestamp in self._interactions:
            if timestamp >= since and self._allowed(item_id):
                counts[item_id] = counts.get(item_id, 0.0) + 1.0
        ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return ranked[:k]
