"""Alternating least squares on implicit feedback, via the ``implicit`` library.

Serving never retrains and stores no user factors. A user's factor is solved
from their current history against the trained item factors (the ALS user
step, known as fold-in). So new events change the next list at once, and new
users are served as soon as they have history.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import Field

from semrec.plugins import PluginConfig, ScoredItem, Scorer

logger = logging.getLogger(__name__)


class AlsConfig(PluginConfig):
    factors: int = Field(64, ge=2, le=1024, description="Length of the user and item factor vectors.")
    regularization: float = Field(0.05, ge=0, description="L2 penalty on the factors.")
    alpha: float = Field(10.0, gt=0, description="Confidence per unit of interaction weight: c = 1 + alpha * w.")
    iterations: int = Field(15, ge=1, le=500, description="ALS sweeps over users and items.")
    random_state: int = Field(42, description="Seed for the initial factors.")


class AlsScorer(Scorer):
    id = "collaborative"
    label = gettext_lazy("Collaborative filtering (ALS)")
    description = gettext_lazy(
        "Implicit-feedback matrix factorisation trained with alternating least squares. "
        "User factors are solved from the current history at request time."
    )
    Config = AlsConfig
    trainable = True
    batch_scoring = True

    def __init__(self, config=None):
        super().__init__(config)
        self.item_ids = np.zeros(0, dtype=np.int64)
        self.item_factors = np.zeros((0, self.config.factors), dtype=np.float32)
        self._gram = np.zeros((self.config.factors, self.config.factors), dtype=np.float32)
        self._positions: dict[int, int] = {}

    def fit(self, data, progress=None):
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        matrix, _, item_index = data.to_csr()
        matrix.data = 1.0 + self.config.alpha * matrix.data
        def report(iteration, *_timing_and_loss):
            if progress is not None:
                progress(iteration + 1, self.config.iterations)

        # implicit's own threads are faster than nested BLAS threads, and it
        # warns when BLAS has a thread pool of its own.
        with threadpool_limits(1, "blas"):
            # alpha=1 because the confidence is already in the matrix, so
            # fold-in at serving uses exactly the confidences trained on.
            model = AlternatingLeastSquares(
                factors=self.config.factors,
                regularization=self.config.regularization,
                alpha=1.0,
                iterations=self.config.iterations,
                random_state=self.config.random_state,
            )
            model.fit(matrix, show_progress=False, callback=report)

        self._set_state(item_index.astype(np.int64), np.asarray(model.item_factors, dtype=np.float32))
        logger.info("Trained ALS on %d users x %d items (%d interactions)", matrix.shape[0], matrix.shape[1], matrix.nnz)
        return {"users": float(matrix.shape[0]), "items": float(matrix.shape[1]), "interactions": float(matrix.nnz)}

    def _set_state(self, item_ids: np.ndarray, item_factors: np.ndarray) -> None:
        self.item_ids = item_ids
        self.item_factors = item_factors
        self._gram = item_factors.T @ item_factors
        self._positions = {int(item_id): position for position, item_id in enumerate(item_ids)}
        self._fitted = True

    def dump(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, item_ids=self.item_ids, item_factors=self.item_factors)
        return buffer.getvalue()

    def load(self, blob: bytes) -> None:
        with np.load(io.BytesIO(blob)) as arrays:
            self._set_state(arrays["item_ids"], arrays["item_factors"])

    def user_factor(self, history) -> np.ndarray | None:
        """Solve the ALS user step for ``history`` against the item factors."""
        rows = [(self._positions[entry.item_id], entry.weight) for entry in history if entry.item_id in self._positions]
        rows = [(position, weight) for position, weight in rows if weight > 0]
        if not rows:
            return None
        positions = np.array([position for position, _ in rows])
        confidence = 1.0 + self.config.alpha * np.array([weight for _, weight in rows], dtype=np.float32)
        factors = self.item_factors[positions]

        # (Y'Y + Y_h' (C - I) Y_h + lambda I) u = Y_h' C p, with p = 1 on the history.
        lhs = self._gram + (factors.T * (confidence - 1.0)) @ factors
        lhs += self.config.regularization * np.eye(self.config.factors, dtype=np.float32)
        rhs = factors.T @ confidence
        return np.linalg.solve(lhs, rhs).astype(np.float32)

    def score(self, context, k):
        self.require_fitted()
        factor = self.user_factor(context.history)
        if factor is None:
            return []

        scores = self.item_factors @ factor
        blocked = [self._positions[item_id] for item_id in context.exclude if item_id in self._positions]
        scores[blocked] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [
            ScoredItem(int(self.item_ids[position]), float(scores[position]), {"collaborative": float(scores[position])})
            for position in top
        ]

    def score_batch(self, contexts, candidates, k):
        self.require_fitted()
        matrix = np.full((len(contexts), len(candidates)), -np.inf)
        factors = {row: self.user_factor(context.history) for row, context in enumerate(contexts)}
        rows = [row for row, factor in factors.items() if factor is not None]
        targets = candidates.positions(self.item_ids)
        known = targets >= 0
        if rows:
            scores = np.stack([factors[row] for row in rows]) @ self.item_factors.T
            matrix[np.ix_(rows, targets[known])] = scores[:, known]
        matrix[candidates.exclusion_mask(contexts)] = -np.inf
        return matrix
