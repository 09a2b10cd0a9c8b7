"""Intent models: ``softmax`` (trained over item categories) and ``passthrough`` (no training)."""

from __future__ import annotations

import numpy as np
from django.utils.translation import gettext_lazy

from semrec.plugins import IntentModel, IntentPrediction, PluginConfig, hookimpl

from .softmax import SoftmaxIntent


class PassthroughIntent(IntentModel):
    id = "passthrough"
    label = gettext_lazy("Passthrough")
    description = gettext_lazy("The intent vector is the normalised sum of the user and query vectors; no training, no distribution.")
    Config = PluginConfig

    def predict(self, user_vectors, query_vectors):
        combined = np.array(user_vectors, dtype=np.float32, copy=True)
        if query_vectors is not None:
            combined += query_vectors
        norms = np.linalg.norm(combined, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return IntentPrediction(vectors=combined / norms)


@hookimpl
def register_intent_models():
    return [SoftmaxIntent, PassthroughIntent]
