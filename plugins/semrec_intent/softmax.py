"""Softmax intent model: ``p(intent | u, q) = softmax(W [u; q] + b)``.

The intent vector used for retrieval fuses the user vector, the query vector
and the intents' centroids weighted by the predicted distribution::

    v = normalise(user_weight * u + query_weight * q + centroid_weight * sum_c p(c | u, q) * centroid_c)

where ``centroid_c`` is the normalised mean vector of the items of category c.
"""

from __future__ import annotations

import io
import json
import logging
import math
from typing import Literal

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import Field

from semrec.plugins import InsufficientTrainingData, IntentExamples, IntentModel, IntentPrediction, PluginConfig

logger = logging.getLogger(__name__)


class SoftmaxConfig(PluginConfig):
    learning_rate: float = Field(0.01, gt=0, le=1, description="Adam learning rate.")
    weight_decay: float = Field(1e-4, ge=0, description="L2 penalty on W.")
    batch_size: int = Field(1024, ge=16, le=65_536, description="Examples per optimisation step.")
    max_epochs: int = Field(60, ge=1, le=1000, description="Upper bound on passes over the training examples.")
    patience: int = Field(4, ge=1, le=100, description="Epochs without a better validation loss before training stops.")
    validation_fraction: float = Field(
        0.1, gt=0, lt=0.5, description="Share of the newest examples held out for early stopping."
    )
    min_examples: int = Field(50, ge=2, description="Training fails with fewer examples than this.")
    class_weighting: Literal["none", "sqrt", "balanced"] = Field(
        "sqrt",
        description="How rare intents are weighted in the loss: 'balanced' by inverse frequency, "
        "'sqrt' by its square root, 'none' not at all.",
    )
    init_temperature: float = Field(
        10.0,
        ge=0,
        le=100,
        description="Training starts from a nearest-centroid classifier with this temperature; 0 starts from random weights.",
    )
    stand_in_query_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of training examples without a query that get the engaged item's vector as a stand-in "
        "query, so that queries are read well before the tenant has search events. 0 turns it off.",
    )
    user_weight: float = Field(1.0, ge=0, description="Weight of the user vector in the intent vector.")
    query_weight: float = Field(1.0, ge=0, description="Weight of the query vector in the intent vector.")
    centroid_weight: float = Field(
        0.5, ge=0, description="Weight of the probability-weighted category centroids in the intent vector."
    )
    seed: int = Field(42, description="Seed for the initial weights and the batch order.")


class SoftmaxIntent(IntentModel):
    id = "softmax"
    label = gettext_lazy("Softmax over categories")
    description = gettext_lazy(
        "Predicts which item category the user is after from their vector and the query vector, "
        "trained on which category each user engaged with next; steers retrieval towards it."
    )
    Config = SoftmaxConfig
    trainable = True

    def __init__(self, config=None):
        super().__init__(config)
        self.labels: list[str] = []
        self.weight = np.zeros((0, 0), dtype=np.float32)
        self.bias = np.zeros(0, dtype=np.float32)
        self.centroids = np.zeros((0, 0), dtype=np.float32)

    def fit(self, data: IntentExamples, progress=None):
        self._check_examples(data)
        features = np.hstack([data.user_vectors, data.query_vectors]).astype(np.float32)
        cut = len(data) - max(1, int(round(len(data) * self.config.validation_fraction)))
        train_features = self._with_stand_in_queries(features[:cut], data)
        metrics = self._train(train_features, data.targets[:cut], features[cut:], data.targets[cut:], data.centroids, progress)
        self.labels = list(data.labels)
        self.centroids = data.centroids.astype(np.float32)
        self._fitted = True

        probabilities = self._probabilities(features[cut:])
        metrics.update(top_k_accuracy(probabilities, data.targets[cut:]))
        metrics.update({"examples": len(data), "validation_examples": len(data) - cut, "intents": len(self.labels)})
        return metrics

    def _check_examples(self, data: IntentExamples) -> None:
        needed = self.config.min_examples
        if len(data) < needed:
            raise InsufficientTrainingData(
                f"Intent model 'softmax' found {len(data)} training examples and needs at least {needed}. "
                "Examples are positive events on items with categories, by users with earlier history or a query. "
                "Send more events, give items categories, or lower min_examples."
            )
        if len(data.labels) < 2:
            raise InsufficientTrainingData(
                f"Intent model 'softmax' found {len(data.labels)} item categories and needs at least 2 to tell intents apart. "
                "Give items categories."
            )

    def _with_stand_in_queries(self, features: np.ndarray, data: IntentExamples) -> np.ndarray:
        """Give a share of the query-less training rows the engaged item's vector as their query.

        Half of those rows also get another row's user vector, as when a user
        searches for something unlike their history, so that the model
        learns to follow the query over the history. Validation rows keep
        their real inputs, so the reported accuracy is not flattered.
        """
        if data.item_vectors is None or self.config.stand_in_query_share == 0:
            return features
        dimension = data.user_vectors.shape[1]
        rng = np.random.default_rng(self.config.seed)
        no_query = ~features[:, dimension:].any(axis=1)
        chosen = np.flatnonzero(no_query & (rng.random(len(features)) < self.config.stand_in_query_share))

        features = features.copy()
        features[chosen, dimension:] = data.item_vectors[chosen]
        swapped = chosen[rng.random(len(chosen)) < 0.5]
        features[swapped, :dimension] = features[rng.integers(0, len(features), len(swapped)), :dimension]
        return features

    def _train(self, x_train, y_train, x_val, y_val, centroids, progress) -> dict[str, float]:
        import torch

        # One thread: the model is one small layer, and more threads only add
        # synchronisation, which is many times slower when the CPU is busy.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._train_layer(torch, x_train, y_train, x_val, y_val, centroids, progress)
        finally:
            torch.set_num_threads(threads)

    def _train_layer(self, torch, x_train, y_train, x_val, y_val, centroids, progress) -> dict[str, float]:
        generator = torch.Generator().manual_seed(self.config.seed)
        torch.manual_seed(self.config.seed)
        layer = torch.nn.Linear(x_train.shape[1], y_train.shape[1])
        self._start_from_centroids(torch, layer, centroids, y_train)
        optimiser = torch.optim.Adam(layer.parameters(), lr=self.config.learning_rate, weight_decay=self.config.weight_decay)
        class_weights = torch.from_numpy(self._class_weights(y_train))
        x_train_t, y_train_t = torch.from_numpy(x_train), torch.from_numpy(y_train)
        x_val_t, y_val_t = torch.from_numpy(x_val), torch.from_numpy(y_val)

        def loss_of(x, y):
            log_p = torch.log_softmax(layer(x), dim=1)
            per_example = -(y * class_weights * log_p).sum(dim=1)
            return per_example.sum() / (y * class_weights).sum().clamp(min=1e-9)

        best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
        for epoch in range(1, self.config.max_epochs + 1):
            order = torch.randperm(len(x_train_t), generator=generator)
            for start in range(0, len(order), self.config.batch_size):
                batch = order[start : start + self.config.batch_size]
                optimiser.zero_grad()
                loss_of(x_train_t[batch], y_train_t[batch]).backward()
                optimiser.step()
            with torch.no_grad():
                val_loss = float(loss_of(x_val_t, y_val_t))
            if progress is not None:
                progress(epoch, self.config.max_epochs)
            if val_loss < best_loss - 1e-5:
                best_loss, best_epoch, stale = val_loss, epoch, 0
                best_state = {name: tensor.detach().clone() for name, tensor in layer.state_dict().items()}
            else:
                stale += 1
                if stale >= self.config.patience:
                    break

        layer.load_state_dict(best_state)
        self.weight = layer.weight.detach().numpy().astype(np.float32)
        self.bias = layer.bias.detach().numpy().astype(np.float32)
        return {"validation_loss": round(best_loss, 5), "best_epoch": best_epoch, "epochs": epoch}

    def _start_from_centroids(self, torch, layer, centroids: np.ndarray, targets: np.ndarray) -> None:
        """Start as a nearest-centroid classifier with the label frequencies as prior.

        Each intent's logit starts as ``temperature * cos(centroid, u + q)``
        plus its log frequency, so training begins where ``passthrough``
        already is and early stopping keeps only what improves on it.
        """
        if self.config.init_temperature == 0:
            return
        scaled = torch.from_numpy(self.config.init_temperature * centroids.astype(np.float32))
        prior = np.log(np.maximum(targets.sum(axis=0) / max(targets.sum(), 1e-9), 1e-6)).astype(np.float32)
        with torch.no_grad():
            layer.weight.copy_(torch.cat([scaled, scaled], dim=1))
            layer.bias.copy_(torch.from_numpy(prior))

    def _class_weights(self, targets: np.ndarray) -> np.ndarray:
        frequency = targets.sum(axis=0) / max(targets.sum(), 1e-9)
        frequency = np.maximum(frequency, 1e-6)
        if self.config.class_weighting == "none":
            weights = np.ones_like(frequency)
        elif self.config.class_weighting == "balanced":
            weights = 1.0 / frequency
        else:
            weights = 1.0 / np.sqrt(frequency)
        return (weights / weights[targets.sum(axis=0) > 0].mean()).astype(np.float32)

    def _probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, user_vectors, query_vectors):
        self.require_fitted()
        user_vectors = np.asarray(user_vectors, dtype=np.float32)
        if query_vectors is None:
            query_vectors = np.zeros_like(user_vectors)
        probabilities = self._probabilities(np.hstack([user_vectors, query_vectors]))

        fused = (
            self.config.user_weight * user_vectors
            + self.config.query_weight * query_vectors
            + self.config.centroid_weight * (probabilities @ self.centroids)
        )
        norms = np.linalg.norm(fused, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        distributions = [dict(zip(self.labels, (float(p) for p in row), strict=True)) for row in probabilities]
        return IntentPrediction(vectors=(fused / norms).astype(np.float32), distributions=distributions)

    def dump(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, weight=self.weight, bias=self.bias, centroids=self.centroids, labels=np.array(json.dumps(self.labels)))
        return buffer.getvalue()

    def load(self, blob: bytes) -> None:
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            self.weight = arrays["weight"]
            self.bias = arrays["bias"]
            self.centroids = arrays["centroids"]
            self.labels = json.loads(str(arrays["labels"]))
        self._fitted = True


def top_k_accuracy(probabilities: np.ndarray, targets: np.ndarray, ks=(1, 3)) -> dict[str, float]:
    """Share of examples whose top-k predicted intents include one of their true categories."""
    if len(targets) == 0:
        return {f"top{k}_accuracy": 0.0 for k in ks}
    ranked = np.argsort(-probabilities, axis=1)
    result = {}
    for k in ks:
        hits = np.take_along_axis(targets, ranked[:, :k], axis=1).max(axis=1) > 0
        result[f"top{k}_accuracy"] = round(float(hits.mean()), 4)
    return result
