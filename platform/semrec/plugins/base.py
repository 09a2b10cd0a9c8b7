"""Abstract base classes for the four plugin families.

Each family has one main batch method to implement. Configuration is a
pydantic model that rejects unknown keys and fills defaults, so a row saved
by an older plugin version still loads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import PluginConfigError, PluginNotFitted
from .types import (
    Explanation,
    IntentPrediction,
    InteractionData,
    PluginRef,
    ProgressCallback,
    ScoredItem,
)

if TYPE_CHECKING:
    from .batch import CandidateItems
    from .context import ScoringContext


class PluginConfig(BaseModel):
    """Base for plugin configuration schemas: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Plugin(ABC):
    """Base of every plugin: a stable id, admin texts and a configuration schema."""

    #: Family name, set by the family base classes below.
    family: ClassVar[str]
    #: Stable id stored in the database; never change it once released.
    id: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[PluginConfig]] = PluginConfig
    #: True when the plugin learns state with ``fit`` and saves it with ``dump``.
    trainable: ClassVar[bool] = False

    def __init__(self, config: PluginConfig | Mapping[str, Any] | None = None):
        if isinstance(config, PluginConfig):
            self.config = config
        else:
            self.config = self.validate_config(config or {})
        self._fitted = False

    @classmethod
    def validate_config(cls, raw: Mapping[str, Any]) -> PluginConfig:
        """Return the validated configuration with defaults filled in."""
        try:
            return cls.Config.model_validate(dict(raw))
        except ValidationError as err:
            errors = [
                {"field": ".".join(str(part) for part in error["loc"]) or "(root)", "reason": error["msg"]}
                for error in err.errors()
            ]
            raise PluginConfigError(cls.id, errors) from err

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """Return the JSON schema of the configuration, for forms and docs."""
        return cls.Config.model_json_schema()

    # Training, for plugins with ``trainable = True``.

    def fit(self, data: InteractionData, progress: ProgressCallback | None = None) -> dict[str, float]:
        """Learn state from interactions and return training metrics."""
        raise NotImplementedError(f"Plugin '{self.id}' is not trainable.")

    def dump(self) -> bytes:
        """Serialise the learnt state."""
        raise NotImplementedError(f"Plugin '{self.id}' is not trainable.")

    def load(self, blob: bytes) -> None:
        """Restore state written by :meth:`dump`."""
        raise NotImplementedError(f"Plugin '{self.id}' is not trainable.")

    @property
    def is_fitted(self) -> bool:
        return self._fitted or not self.trainable

    def require_fitted(self) -> None:
        if not self.is_fitted:
            raise PluginNotFitted(
                f"Plugin '{self.id}' has no trained state. Train the strategy "
                "(manage.py semrec_train) before serving it."
            )


class Encoder(Plugin):
    """Turns texts into L2-normalised vectors of a fixed dimension.

    An encoder that learns from the tenant's item texts (IDF weights, a
    vocabulary) sets ``fits_on_texts`` and ``trainable`` and implements
    :meth:`fit_texts`, ``dump`` and ``load``. The encode job fits it and
    stores its state as a ModelVersion. The core never calls its ``fit``.
    """

    family = "encoder"
    #: True when the encoder learns from item texts with :meth:`fit_texts`.
    fits_on_texts: ClassVar[bool] = False
    #: Primary key of the ModelVersion whose state the core fitted or loaded
    #: into this instance, or None while unfitted. The core sets it, never the
    #: plugin, because the embedding space of a fitted encoder depends on it.
    model_version_id: int | None = None

    @property
    @abstractmethod
    def model_name(self) -> str:
        """Name of the model that produces the vectors, stored beside them."""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of every vector this encoder returns."""

    @abstractmethod
    def encode(
        self, texts: Sequence[str], progress: ProgressCallback | None = None, languages: Sequence[str] | None = None
    ) -> np.ndarray:
        """Encode ``texts`` into a float32 array of shape ``(len(texts), dimension)``.

        ``languages`` contains one BCP 47 tag per text ("" when unknown), or is
        None when the caller does not know them. Encoders that do not need the
        language accept the argument and ignore it.
        """

    def fit_texts(
        self, texts: Sequence[str], languages: Sequence[str] | None = None, progress: ProgressCallback | None = None
    ) -> dict[str, float]:
        """Learn state from the tenant's item texts and return fit metrics; for ``fits_on_texts`` encoders."""
        raise NotImplementedError(
            f"Encoder '{self.id}' does not learn from item texts: only encoders with fits_on_texts = True implement fit_texts()."
        )

    def encode_query(self, text: str) -> np.ndarray:
        """Encode a search query; models with query prefixes override this."""
        return self.encode([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode many search queries; override when a batch is faster than one by one."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.encode_query(text) for text in texts])


class IntentModel(Plugin):
    """Maps user and query vectors to intent vectors and distributions.

    Trainable intent models receive :class:`IntentExamples` in ``fit``
    instead of interactions.
    """

    family = "intent_model"

    @abstractmethod
    def predict(self, user_vectors: np.ndarray, query_vectors: np.ndarray | None) -> IntentPrediction:
        """Predict intents for a batch.

        ``user_vectors`` has shape ``(b, d)``; rows of zeros mean "unknown user".
        ``query_vectors`` has the same shape, or is ``None`` when no request
        carries a query.
        """


class Scorer(Plugin):
    """Produces scored candidate items for one user."""

    family = "scorer"

    @classmethod
    def sub_scorers(cls, config: PluginConfig) -> list[PluginRef]:
        """Return the scorers this one combines; the core builds and binds them."""
        return []

    def bind_sub_scorers(self, scorers: Sequence[Scorer]) -> None:
        """Receive the scorers named by :meth:`sub_scorers`, in the same order."""

    #: True when :meth:`score_batch` computes the score matrix itself. False
    #: means the base class fills it by calling :meth:`score` once per context.
    batch_scoring: ClassVar[bool] = False

    @abstractmethod
    def score(self, context: ScoringContext, k: int) -> list[ScoredItem]:
        """Return up to ``k`` items, best first, none of them in ``context.exclude``."""

    def score_batch(self, contexts: Sequence[ScoringContext], candidates: CandidateItems, k: int) -> np.ndarray:
        """Score every candidate for every context, for offline evaluation.

        Returns a float matrix of shape ``(len(contexts), len(candidates))``
        whose columns follow ``candidates.item_ids``. ``-inf`` marks an item
        the scorer would not return for that user: excluded, unknown to the
        scorer, or (in this default) below the ``k`` items :meth:`score`
        returns. The ``k`` best finite entries of row ``i`` are the items
        that ``score(contexts[i], k)`` returns, in the same order.
        """
        matrix = np.full((len(contexts), len(candidates)), -np.inf)
        for row, context in enumerate(contexts):
            scored = self.score(context, k)
            columns = candidates.positions([item.item_id for item in scored])
            values = np.array([item.score for item in scored], dtype=np.float64)
            matrix[row, columns[columns >= 0]] = values[columns >= 0]
        return matrix


class Explainer(Plugin):
    """Says why each recommended item was chosen."""

    family = "explainer"

    @abstractmethod
    def explain(self, items: Sequence[ScoredItem], context: ScoringContext) -> list[Explanation]:
        """Return one explanation per item, in the order of ``items``."""


FAMILY_BASES: dict[str, type[Plugin]] = {
    "encoder": Encoder,
    "intent_model": IntentModel,
    "scorer": Scorer,
    "explainer": Explainer,
}
