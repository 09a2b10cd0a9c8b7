"""The scoring context of one evaluated user, served from the evaluation's arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semrec.plugins import CandidateItems, ScoringContext


class EvaluationContext(ScoringContext):
    """A user's training history over the candidate items of one evaluation.

    Nearest neighbours are exact (a matrix product), where serving uses the
    approximate HNSW index. Popularity counts the training events.
    """

    def __init__(self, *, candidates: CandidateItems, **kwargs):
        super().__init__(**kwargs)
        self.candidates = candidates

    def nearest_items(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        vectors = self.candidates.vectors
        if vectors is None or k <= 0:
            return []
        similarity = vectors.astype(np.float64) @ np.asarray(vector, dtype=np.float64)
        similarity[~self.candidates.has_vector] = -np.inf
        similarity[self._excluded_columns()] = -np.inf
        return self._top(similarity, k)

    def item_vectors(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        vectors = self.candidates.vectors
        if vectors is None:
            return {}
        columns = self.candidates.positions(list(item_ids))
        return {
            int(item_id): vectors[column]
            for item_id, column in zip(item_ids, columns, strict=True)
            if column >= 0 and self.candidates.has_vector[column]
        }

    def popular_items(self, k: int, window_days: float | None = None) -> list[tuple[int, float]]:
        counts = self.candidates.popularity(window_days)
        counts[counts == 0] = -np.inf
        counts[self._excluded_columns()] = -np.inf
        return self._top(counts, k)

    def _excluded_columns(self) -> np.ndarray:
        columns = self.candidates.positions(sorted(self.exclude))
        return columns[columns >= 0]

    def _top(self, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Return the ``k`` best finite entries as ``(item_id, score)``, ties by item id."""
        finite = np.flatnonzero(np.isfinite(scores))
        order = finite[np.lexsort((finite, -scores[finite]))][:k]
        return [(int(self.candidates.item_ids[column]), float(scores[column])) for column in order]
