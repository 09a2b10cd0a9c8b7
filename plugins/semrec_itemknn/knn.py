"""Item-based k-nearest neighbours on the users that items share.

The similarity of items ``i`` and ``j`` is the shrunk cosine of their user
columns, ``|U_i & U_j| / (sqrt(|U_i| |U_j|) + shrinkage)`` with binary
interactions. Each item keeps its ``neighbours`` most similar items. A user's
score for an item is the sum of its similarities to the history items,
weighted by the history weights. Only items with a positive score are
returned, so a user whose history shares no users with any item is served by
the fallback scorer.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import Field
from scipy.sparse import csr_matrix, vstack

from semrec.plugins import InsufficientTrainingData, PluginConfig, ScoredItem, Scorer, top_positions

logger = logging.getLogger(__name__)

#: Similarity values computed densely at once (rows times items), which bounds the memory of fit.
DENSE_BLOCK_VALUES = 5_000_000


class ItemKnnConfig(PluginConfig):
    neighbours: int = Field(100, ge=1, le=10_000, description="Most similar items kept per item.")
    shrinkage: float = Field(
        10.0, ge=0, description="Added to the cosine's denominator, so similarities that rest on few shared users shrink."
    )
    binary: bool = Field(
        True, description="Count every history item as 1 when scoring. False uses the event weights of the strategy's options."
    )


class ItemKnnScorer(Scorer):
    id = "item_knn"
    label = gettext_lazy("Item k-nearest neighbours")
    description = gettext_lazy(
        "Recommends items that the same users engaged with as the items in the user's history "
        "(shrunk cosine similarity, top neighbours per item)."
    )
    Config = ItemKnnConfig
    trainable = True
    batch_scoring = True

    def __init__(self, config=None):
        super().__init__(config)
        self.item_ids = np.zeros(0, dtype=np.int64)
        self.similarity = csr_matrix((0, 0), dtype=np.float32)
        self._positions: dict[int, int] = {}

    def fit(self, data, progress=None):
        if len(data) == 0:
            raise InsufficientTrainingData("Item-kNN needs at least one positive interaction to train on.")
        matrix, _, item_index = data.to_csr()
        matrix.data[:] = 1.0
        columns = matrix.tocsc()
        counts = np.diff(columns.indptr).astype(np.float64)
        norms = np.sqrt(counts)

        block = max(1, DENSE_BLOCK_VALUES // max(len(item_index), 1))
        blocks = []
        for start in range(0, len(item_index), block):
            stop = min(start + block, len(item_index))
            blocks.append(self._similarity_rows(columns, norms, start, stop))
            if progress is not None:
                progress(stop, len(item_index))
        self._set_state(item_index.astype(np.int64), vstack(blocks, format="csr").astype(np.float32))
        logger.info("Trained item-kNN on %d users x %d items", matrix.shape[0], len(item_index))
        return {"users": float(matrix.shape[0]), "items": float(len(item_index)), "similarities": float(self.similarity.nnz)}

    def _similarity_rows(self, columns, norms: np.ndarray, start: int, stop: int) -> csr_matrix:
        """Return the pruned similarity rows of items ``start`` to ``stop``."""
        shared = (columns[:, start:stop].T @ columns).toarray()
        denominator = np.outer(norms[start:stop], norms) + self.config.shrinkage
        similarity = np.divide(shared, denominator, out=np.zeros_like(shared), where=denominator > 0)
        similarity[np.arange(stop - start), np.arange(start, stop)] = 0.0

        keep = min(self.config.neighbours, similarity.shape[1])
        if keep < similarity.shape[1]:
            cut = np.argpartition(-similarity, keep - 1, axis=1)[:, keep:]
            np.put_along_axis(similarity, cut, 0.0, axis=1)
        return csr_matrix(similarity)

    def _set_state(self, item_ids: np.ndarray, similarity: csr_matrix) -> None:
        self.item_ids = item_ids
        self.similarity = similarity
        self._positions = {int(item_id): position for position, item_id in enumerate(item_ids)}
        self._fitted = True

    def dump(self) -> bytes:
        buffer = io.BytesIO()
        similarity = self.similarity
        np.savez(
            buffer,
            item_ids=self.item_ids,
            data=similarity.data,
            indices=similarity.indices,
            indptr=similarity.indptr,
        )
        return buffer.getvalue()

    def load(self, blob: bytes) -> None:
        with np.load(io.BytesIO(blob)) as arrays:
            size = len(arrays["item_ids"])
            similarity = csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(size, size))
            self._set_state(arrays["item_ids"], similarity)

    def _history_matrix(self, contexts) -> csr_matrix:
        """Return one row per context over the model's items, holding the history weights."""
        rows, columns, values = [], [], []
        for row, context in enumerate(contexts):
            weights: dict[int, float] = {}
            for entry in context.history:
                position = self._positions.get(entry.item_id)
                if position is not None and entry.weight > 0:
                    weights[position] = 1.0 if self.config.binary else weights.get(position, 0.0) + entry.weight
            rows += [row] * len(weights)
            columns += list(weights)
            values += list(weights.values())
        return csr_matrix((values, (rows, columns)), shape=(len(contexts), len(self.item_ids)))

    def _model_scores(self, contexts) -> np.ndarray:
        """Return the scores over the model's items, -inf where an item is excluded or unscored."""
        history = self._history_matrix(contexts)
        scores = (history @ self.similarity.astype(np.float64)).toarray()
        scores[scores <= 0] = -np.inf
        for row, context in enumerate(contexts):
            blocked = [self._positions[item_id] for item_id in context.exclude if item_id in self._positions]
            scores[row, blocked] = -np.inf
        return scores

    def score(self, context, k):
        self.require_fitted()
        scores = self._model_scores([context])
        top = top_positions(scores, k)[0]
        return [
            ScoredItem(int(self.item_ids[position]), float(scores[0, position]), {"item_knn": float(scores[0, position])})
            for position in top
            if position >= 0
        ]

    def score_batch(self, contexts, candidates, k):
        self.require_fitted()
        scores = self._model_scores(contexts)
        matrix = np.full((len(contexts), len(candidates)), -np.inf)
        targets = candidates.positions(self.item_ids)
        known = targets >= 0
        matrix[:, targets[known]] = scores[:, known]
        matrix[candidates.exclusion_mask(contexts)] = -np.inf
        return matrix
