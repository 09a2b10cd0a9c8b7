"""Batch scoring: the candidate catalogue shared by many users, and row-wise ranking.

Offline evaluation ranks every candidate item for hundreds of users at once.
:meth:`semrec.plugins.Scorer.score_batch` receives the users' contexts and
one :class:`CandidateItems`, and returns a dense score matrix whose columns
follow ``CandidateItems.item_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .context import ScoringContext

SECONDS_PER_DAY = 86400.0


class CandidateItems:
    """The items a batch is ranked over, with their vectors and interaction counts.

    ``item_ids`` are sorted and unique. ``vectors[i]`` is the unit vector of
    ``item_ids[i]``, or a zero row when that item has none. The interaction
    rows (``event_item_ids``, ``event_timestamps`` in Unix seconds) are the
    ones the contexts' ``popular_items`` count, so both give the same counts.
    """

    def __init__(
        self,
        item_ids: Iterable[int],
        vectors: dict[int, np.ndarray] | None = None,
        event_item_ids: Sequence[int] | np.ndarray = (),
        event_timestamps: Sequence[float] | np.ndarray = (),
    ):
        self.item_ids = np.unique(np.asarray(list(item_ids), dtype=np.int64))
        self.vectors, self.has_vector = self._stack_vectors(vectors or {})
        self._event_positions = self.positions(np.asarray(event_item_ids, dtype=np.int64))
        self._event_timestamps = np.asarray(event_timestamps, dtype=np.float64)
        if len(self._event_positions) != len(self._event_timestamps):
            raise ValueError("event_item_ids and event_timestamps must have the same length.")

    def __len__(self) -> int:
        return len(self.item_ids)

    def _stack_vectors(self, vectors: dict[int, np.ndarray]) -> tuple[np.ndarray | None, np.ndarray]:
        has_vector = np.array([int(item_id) in vectors for item_id in self.item_ids], dtype=bool)
        if not has_vector.any():
            return None, has_vector
        dimension = len(next(iter(vectors.values())))
        matrix = np.zeros((len(self.item_ids), dimension), dtype=np.float32)
        for position in np.flatnonzero(has_vector):
            matrix[position] = vectors[int(self.item_ids[position])]
        return matrix, has_vector

    def positions(self, item_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return the column of each item id, or -1 for ids that are not candidates."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        if len(self.item_ids) == 0:
            return np.full(len(item_ids), -1, dtype=np.int64)
        found = np.searchsorted(self.item_ids, item_ids).clip(max=len(self.item_ids) - 1)
        return np.where(self.item_ids[found] == item_ids, found, -1)

    def popularity(self, window_days: float | None = None) -> np.ndarray:
        """Return each candidate's interaction count, optionally within a window before the newest one."""
        keep = self._event_positions >= 0
        if window_days and len(self._event_timestamps):
            keep &= self._event_timestamps >= self._event_timestamps.max() - window_days * SECONDS_PER_DAY
        return np.bincount(self._event_positions[keep], minlength=len(self.item_ids)).astype(np.float64)

    def exclusion_mask(self, contexts: Sequence[ScoringContext]) -> np.ndarray:
        """Return a boolean matrix that is True where a context excludes a candidate."""
        mask = np.zeros((len(contexts), len(self.item_ids)), dtype=bool)
        for row, context in enumerate(contexts):
            columns = self.positions(list(context.exclude))
            mask[row, columns[columns >= 0]] = True
        return mask


def top_positions(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the columns of each row's ``k`` best finite scores, best first.

    Equal scores are ordered by column, so by ascending item id when the
    columns follow ``CandidateItems.item_ids``. Rows with fewer than ``k``
    finite scores are padded with -1.
    """
    rows, columns = scores.shape
    result = np.full((rows, k), -1, dtype=np.int64)
    if rows == 0 or columns == 0 or k <= 0:
        return result

    # The k-th largest value of each row; every column at or above it is a candidate.
    cut = min(k, columns) - 1
    kth = -np.partition(-scores, cut, axis=1)[:, cut]
    for row in range(rows):
        chosen = np.flatnonzero((scores[row] >= kth[row]) & np.isfinite(scores[row]))
        ordered = chosen[np.lexsort((chosen, -scores[row, chosen]))][:k]
        result[row, : len(ordered)] = ordered
    return result
