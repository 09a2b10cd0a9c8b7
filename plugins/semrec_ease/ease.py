"""EASE: an item-item weight matrix learnt in closed form.

With ``X`` the user-item matrix and ``G = X'X`` its item Gram matrix, the
weights are ``B = I - P diag(1 / diag(P))`` with ``P = (G + lambda I)^-1``:
the L2-regularised least-squares solution of ``X ~ X B`` under the
constraint ``diag(B) = 0`` (Steck, "Embarrassingly Shallow Autoencoders for
Sparse Data", WWW 2019). A user's scores are their history row times ``B``.
So new events count at once, and users who arrived after training are
served as soon as they have history.

With ``text_weight > 0`` the Gram matrix also gets the items' text
similarity, ``G + text_weight * max(0, cos(v_i, v_j)) ** text_power``. Items
that read alike then share weight, which helps items with few interactions.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import Field
from scipy.sparse import csr_matrix

from semrec.plugins import InsufficientTrainingData, PluginConfig, PluginError, ScoredItem, Scorer, top_positions

logger = logging.getLogger(__name__)


class EaseConfig(PluginConfig):
    regularization: float = Field(500.0, gt=0, description="L2 penalty (lambda) added to the diagonal of the item Gram matrix.")
    binary: bool = Field(
        True, description="Count every positive interaction as 1. False uses the event weights of the strategy's options."
    )
    max_items: int = Field(
        5000,
        ge=2,
        le=30_000,
        description="Model only this many of the most interacted-with items. Memory grows with its square "
        "(5,000 items: 100 MB) and training time with its cube.",
    )
    text_weight: float = Field(
        0.0, ge=0, description="Weight of item text similarity added to the Gram matrix; 0 trains plain EASE."
    )
    text_power: float = Field(
        2.0, ge=1, le=10, description="Exponent applied to positive cosine similarities of item vectors before they are added."
    )


class EaseScorer(Scorer):
    id = "ease"
    label = gettext_lazy("EASE (item-item, closed form)")
    description = gettext_lazy(
        "Item-item model learnt in closed form with an L2 penalty (EASE). A strong collaborative baseline; "
        "optionally adds item text similarity to the item co-occurrences."
    )
    Config = EaseConfig
    trainable = True
    batch_scoring = True

    def __init__(self, config=None):
        super().__init__(config)
        self.item_ids = np.zeros(0, dtype=np.int64)
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self._positions: dict[int, int] = {}

    def fit(self, data, progress=None):
        if len(data) == 0:
            raise InsufficientTrainingData("EASE needs at least one positive interaction to train on.")
        matrix, _, item_index = data.to_csr()
        if self.config.binary:
            matrix.data[:] = 1.0
        modelled = _top_columns_by_users(matrix, self.config.max_items)
        matrix = matrix[:, modelled]
        item_ids = item_index[modelled].astype(np.int64)
        self._report(progress, 1)

        gram = (matrix.T @ matrix).toarray().astype(np.float64)
        if self.config.text_weight > 0:
            gram += self.config.text_weight * self._text_similarity(item_ids, data.item_vectors)
        self._report(progress, 2)

        self._set_state(item_ids, _closed_form(gram, self.config.regularization))
        self._report(progress, 3)
        logger.info("Trained EASE on %d users x %d items (lambda %s)", matrix.shape[0], len(item_ids), self.config.regularization)
        return {
            "users": float(matrix.shape[0]),
            "items": float(len(item_ids)),
            "items_left_out": float(len(item_index) - len(item_ids)),
            "interactions": float(matrix.nnz),
        }

    def _text_similarity(self, item_ids: np.ndarray, vectors) -> np.ndarray:
        if not vectors:
            raise PluginError(
                "EASE has text_weight > 0 but received no item vectors to train on. Encode the strategy's items "
                "(manage.py semrec_encode) before training, or set text_weight to 0."
            )
        dimension = len(next(iter(vectors.values())))
        stacked = np.zeros((len(item_ids), dimension), dtype=np.float64)
        for row, item_id in enumerate(item_ids):
            if int(item_id) in vectors:
                stacked[row] = vectors[int(item_id)]
        similarity = np.maximum(stacked @ stacked.T, 0.0) ** self.config.text_power
        np.fill_diagonal(similarity, 0.0)
        return similarity

    @staticmethod
    def _report(progress, step: int) -> None:
        if progress is not None:
            progress(step, 3)

    def _set_state(self, item_ids: np.ndarray, weights: np.ndarray) -> None:
        self.item_ids = item_ids
        self.weights = weights
        self._positions = {int(item_id): position for position, item_id in enumerate(item_ids)}
        self._fitted = True

    def dump(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, item_ids=self.item_ids, weights=self.weights)
        return buffer.getvalue()

    def load(self, blob: bytes) -> None:
        with np.load(io.BytesIO(blob)) as arrays:
            self._set_state(arrays["item_ids"], arrays["weights"])

    def _history_row(self, history) -> tuple[np.ndarray, np.ndarray]:
        """Return the model positions and input weights of the history's positive items."""
        weights: dict[int, float] = {}
        for entry in history:
            position = self._positions.get(entry.item_id)
            if position is not None and entry.weight > 0:
                weights[position] = 1.0 if self.config.binary else weights.get(position, 0.0) + entry.weight
        positions = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
        return positions, np.fromiter(weights.values(), dtype=np.float64, count=len(weights))

    def _blocked(self, exclude) -> list[int]:
        return [self._positions[item_id] for item_id in exclude if item_id in self._positions]

    def score(self, context, k):
        self.require_fitted()
        positions, weights = self._history_row(context.history)
        if len(positions) == 0:
            return []

        scores = weights @ self.weights[positions].astype(np.float64)
        scores[self._blocked(context.exclude)] = -np.inf
        top = top_positions(scores[np.newaxis, :], k)[0]
        return [
            ScoredItem(int(self.item_ids[position]), float(scores[position]), {"ease": float(scores[position])})
            for position in top
            if position >= 0
        ]

    def score_batch(self, contexts, candidates, k):
        self.require_fitted()
        rows, columns, values = [], [], []
        for row, context in enumerate(contexts):
            positions, weights = self._history_row(context.history)
            rows += [row] * len(positions)
            columns += positions.tolist()
            values += weights.tolist()
        history = csr_matrix((values, (rows, columns)), shape=(len(contexts), len(self.item_ids)))
        model_scores = np.asarray(history @ self.weights.astype(np.float64))

        matrix = np.full((len(contexts), len(candidates)), -np.inf)
        targets = candidates.positions(self.item_ids)
        known = targets >= 0
        matrix[:, targets[known]] = model_scores[:, known]
        matrix[candidates.exclusion_mask(contexts)] = -np.inf
        matrix[np.diff(history.indptr) == 0] = -np.inf
        return matrix


def _top_columns_by_users(matrix: csr_matrix, limit: int) -> np.ndarray:
    """Return the sorted columns of the ``limit`` items with the most users."""
    users_per_item = np.diff(matrix.tocsc().indptr)
    if len(users_per_item) <= limit:
        return np.arange(len(users_per_item))
    return np.sort(np.argsort(-users_per_item, kind="stable")[:limit])


def _closed_form(gram: np.ndarray, regularization: float) -> np.ndarray:
    """Return EASE's weight matrix for an item Gram matrix."""
    gram[np.diag_indices_from(gram)] += regularization
    inverse = np.linalg.inv(gram)
    weights = inverse / (-np.diag(inverse))
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)
