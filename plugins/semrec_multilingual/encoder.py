"""The ``by_language`` encoder: one sub-encoder per language, each writing its own block of one vector.

A text is encoded by the sub-encoder of its language, and the result fills
that sub-encoder's block of the output, with zeros in every other block.
All vectors therefore have one length and share one embedding space and
index. The cosine of two texts routed to the same sub-encoder is that
sub-encoder's cosine, and the cosine of texts routed to different
sub-encoders is 0. A user vector, the weighted mean of item vectors, keeps
each language's part in its own block, in proportion to the history.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from semrec.catalog.language import InvalidLanguageTag, detect_language, normalise_language_tag
from semrec.plugins import Encoder, InteractionData, PluginConfig, PluginConfigError, PluginNotInstalled, ProgressCallback, get_registry
from semrec.vectors.models import config_fingerprint

logger = logging.getLogger(__name__)

ENCODER_ID = "by_language"
#: Maximum dimension of pgvector's HNSW index on the ``vector`` type, as in the lexical encoder.
HNSW_MAX_DIMENSION = 2000
#: Name of the default sub-encoder's block in errors and saved states; never a valid language tag.
DEFAULT_BLOCK = "default"
STATE_MAGIC = b"semrec-by-language\n"
STATE_FORMAT = 1


class SubEncoder(BaseModel):
    """A sub-encoder: the id of an installed encoder and its own configuration."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Id of an installed encoder, such as 'lexical' or 'transformers'.")
    config: dict[str, Any] = Field(default_factory=dict, description="That encoder's own configuration.")


class ByLanguageConfig(PluginConfig):
    languages: dict[str, SubEncoder] = Field(
        default={"zh": SubEncoder(id="lexical")},
        description="Sub-encoder per BCP 47 language tag. A tag also covers longer tags that start with it: "
        "'zh' covers 'zh-Hans', 'zh-Hant-TW' and Chinese text without a declared language.",
    )
    default: SubEncoder = Field(
        default=SubEncoder(id="transformers"),
        description="Sub-encoder for texts whose language matches no tag in languages, or is unknown.",
    )

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, languages: dict[str, SubEncoder]) -> dict[str, SubEncoder]:
        checked: dict[str, SubEncoder] = {}
        for raw_tag, sub in languages.items():
            tag = _canonical_tag(raw_tag)
            if tag in checked:
                raise PydanticCustomError(
                    "duplicate_language",
                    f"Language tags '{raw_tag}' and another key both mean '{tag}'. Keep one of them.",
                )
            checked[tag] = _checked_sub_encoder(sub, f"languages.{tag}")
        return checked

    @field_validator("default")
    @classmethod
    def _check_default(cls, sub: SubEncoder) -> SubEncoder:
        return _checked_sub_encoder(sub, DEFAULT_BLOCK)

    @model_validator(mode="after")
    def _check_dimension(self):
        # NOTE: a sub-encoder whose dimension cannot be read yet (a Hub model
        # not downloaded) is left out here. The encoder checks the full sum
        # again when it is built, and fails there.
        sizes = {name: _readable_dimension(sub) for name, sub in block_refs(self)}
        total = sum(size for size in sizes.values() if size is not None)
        if total > HNSW_MAX_DIMENSION:
            raise PydanticCustomError("dimension_too_large", _dimension_message(sizes, total))
        return self


def block_refs(config: ByLanguageConfig) -> list[tuple[str, SubEncoder]]:
    """Return the blocks in output order: the default first, then the languages sorted by tag.

    The order does not follow the order of keys in the stored configuration,
    because PostgreSQL's jsonb does not keep that order.
    """
    return [(DEFAULT_BLOCK, config.default)] + sorted(config.languages.items())


class ByLanguageEncoder(Encoder):
    id = ENCODER_ID
    label = gettext_lazy("Encoder per language")
    description = gettext_lazy(
        "Encodes each text with the encoder configured for its language, such as the lexical encoder for "
        "Chinese and a transformer model for other languages. Each encoder fills its own block of one vector, "
        "so every language shares one embedding space."
    )
    version = "0.1.0"
    Config = ByLanguageConfig

    def __init__(self, config=None):
        super().__init__(config)
        self.config: ByLanguageConfig
        registry = get_registry()
        self._names: list[str] = []
        self._encoders: list[Encoder] = []
        for name, sub in block_refs(self.config):
            self._names.append(name)
            self._encoders.append(registry.create("encoder", sub.id, sub.config))
        sizes = [encoder.dimension for encoder in self._encoders]
        total = sum(sizes)
        if total > HNSW_MAX_DIMENSION:
            message = _dimension_message(dict(zip(self._names, sizes, strict=True)), total)
            raise PluginConfigError(self.id, [{"field": "(root)", "reason": message}])
        self._offsets = np.cumsum([0] + sizes)
        self._block_of_tag = {name: index for index, name in enumerate(self._names) if name != DEFAULT_BLOCK}
        self._route_cache: dict[str, int] = {}
        # Fitting on texts depends on the configured sub-encoders, so these
        # instance attributes shadow the class-level defaults.
        self.fits_on_texts = any(encoder.fits_on_texts for encoder in self._encoders)
        self.trainable = self.fits_on_texts

    @property
    def model_name(self) -> str:
        parts = [f"{name}={encoder.model_name}" for name, encoder in zip(self._names, self._encoders, strict=True)]
        return "by-language(" + ", ".join(parts) + ")"

    @property
    def dimension(self) -> int:
        return int(self._offsets[-1])

    @property
    def sub_encoders(self) -> dict[str, Encoder]:
        """Sub-encoders by block name: ``"default"`` or a language tag."""
        return dict(zip(self._names, self._encoders, strict=True))

    def block_for(self, language: str) -> str:
        """Return the block name that a text of ``language`` goes to: a configured tag or ``"default"``."""
        return self._names[self._route(language)]

    def block_slice(self, name: str) -> slice:
        """Return the positions of a block in the output vector."""
        index = self._names.index(name)
        return slice(int(self._offsets[index]), int(self._offsets[index + 1]))

    # Encoding

    def encode(
        self, texts: Sequence[str], progress: ProgressCallback | None = None, languages: Sequence[str] | None = None
    ) -> np.ndarray:
        """Encode each text with its language's sub-encoder; a text without a language is routed by its script."""
        resolved = self._resolve_languages(texts, languages)
        groups = self._group(resolved)
        output = np.zeros((len(texts), self.dimension), dtype=np.float32)
        done = 0
        for block, positions in groups.items():
            encoder = self._encoders[block]
            subset = [texts[position] for position in positions]
            report = None if progress is None else _offset_progress(progress, done, len(texts))
            vectors = encoder.encode(subset, progress=report, languages=[resolved[position] for position in positions])
            output[positions, self._offsets[block] : self._offsets[block + 1]] = vectors
            done += len(positions)
            if progress is not None:
                progress(done, len(texts))
        return _normalise_rows(output)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries with the sub-encoder of the language detected from each query's script."""
        resolved = self._resolve_languages(texts, None)
        output = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for block, positions in self._group(resolved).items():
            vectors = self._encoders[block].encode_queries([texts[position] for position in positions])
            output[positions, self._offsets[block] : self._offsets[block + 1]] = vectors
        return _normalise_rows(output)

    # Fitting on item texts

    def fit_texts(
        self, texts: Sequence[str], languages: Sequence[str] | None = None, progress: ProgressCallback | None = None
    ) -> dict[str, float]:
        """Fit every sub-encoder that learns from texts on the texts routed to it; return their metrics, prefixed by block."""
        if not self.fits_on_texts:
            return super().fit_texts(texts, languages, progress)
        resolved = self._resolve_languages(texts, languages)
        groups = self._group(resolved)
        metrics: dict[str, float] = {}
        done = 0
        for block, encoder in enumerate(self._encoders):
            positions = groups.get(block, [])
            if not encoder.fits_on_texts:
                continue
            name = self._names[block]
            metrics[f"{name}.texts"] = len(positions)
            if not positions:
                # NOTE: a fitting sub-encoder with no texts of its languages
                # stays unfitted; it encodes later items without fitted state.
                logger.warning("Encoder %s: no item text is routed to block '%s', so %s stays unfitted", self.id, name, encoder.id)
                continue
            report = None if progress is None else _offset_progress(progress, done, len(texts))
            try:
                fitted = encoder.fit_texts([texts[p] for p in positions], [resolved[p] for p in positions], report)
            except ValueError as err:
                raise ValueError(f"Sub-encoder '{encoder.id}' of block '{name}' could not be fitted on {len(positions)} texts: {err}") from err
            metrics.update({f"{name}.{key}": value for key, value in fitted.items()})
            done += len(positions)
        if progress is not None:
            progress(len(texts), len(texts))
        self._fitted = True
        return metrics

    def fit(self, data: InteractionData, progress: ProgressCallback | None = None) -> dict[str, float]:
        raise NotImplementedError(
            "The by_language encoder learns from item texts, not interactions: call fit_texts() with the tenant's item texts."
        )

    def dump(self) -> bytes:
        """Serialise the fitted state of each sub-encoder that fits on texts, with a header that names them."""
        if not self.fits_on_texts:
            raise ValueError("This by_language encoder has no sub-encoder that fits on texts, so it has no state to save.")
        blocks, blobs = [], []
        for name, sub, encoder in self._fitting_blocks():
            blob = encoder.dump() if encoder.is_fitted else None
            blocks.append({"block": name, "encoder": sub.id, "fingerprint": _sub_fingerprint(sub), "size": None if blob is None else len(blob)})
            blobs.append(blob or b"")
        header = json.dumps({"format": STATE_FORMAT, "blocks": blocks}).encode()
        return STATE_MAGIC + struct.pack(">I", len(header)) + header + b"".join(blobs)

    def load(self, blob: bytes) -> None:
        """Restore a state written by :meth:`dump`; raise ValueError when it was fitted under another configuration."""
        header, offset = _read_header(blob)
        expected = [(name, sub.id, _sub_fingerprint(sub)) for name, sub, _encoder in self._fitting_blocks()]
        stored = [(entry.get("block"), entry.get("encoder"), entry.get("fingerprint")) for entry in header["blocks"]]
        if stored != expected:
            raise ValueError(
                "This by_language state was fitted with other sub-encoders or options "
                f"(saved blocks: {[entry[0] for entry in stored]}). Fit the encoder again."
            )
        for entry, (name, _sub, encoder) in zip(header["blocks"], self._fitting_blocks(), strict=True):
            size = entry.get("size")
            if size is None:
                continue
            if offset + size > len(blob):
                raise ValueError(f"This by_language state is truncated in block '{name}'. Fit the encoder again.")
            encoder.load(blob[offset : offset + size])
            offset += size
        self._fitted = True

    # Routing

    def _resolve_languages(self, texts: Sequence[str], languages: Sequence[str] | None) -> list[str]:
        if languages is not None and len(languages) != len(texts):
            raise ValueError(f"Got {len(texts)} texts but {len(languages)} languages; pass one language tag per text.")
        declared = languages if languages is not None else [""] * len(texts)
        return [language or detect_language(text) for text, language in zip(texts, declared, strict=True)]

    def _route(self, language: str) -> int:
        cached = self._route_cache.get(language)
        if cached is None:
            cached = self._lookup(language)
            self._route_cache[language] = cached
        return cached

    def _lookup(self, language: str) -> int:
        """Return the block of the longest configured tag that ``language`` starts with (RFC 4647 lookup), else the default's."""
        try:
            tag = normalise_language_tag(language)
        except InvalidLanguageTag:
            return 0
        while tag:
            if tag in self._block_of_tag:
                return self._block_of_tag[tag]
            tag = tag.rpartition("-")[0]
        return 0

    def _group(self, languages: Sequence[str]) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for position, language in enumerate(languages):
            groups.setdefault(self._route(language), []).append(position)
        return groups

    def _fitting_blocks(self) -> list[tuple[str, SubEncoder, Encoder]]:
        refs = block_refs(self.config)
        return [
            (name, sub, encoder)
            for (name, sub), encoder in zip(refs, self._encoders, strict=True)
            if encoder.fits_on_texts
        ]


def _canonical_tag(raw_tag: str) -> str:
    try:
        tag = normalise_language_tag(raw_tag)
    except InvalidLanguageTag:
        tag = ""
    if not tag:
        raise PydanticCustomError(
            "invalid_language_tag",
            f"'{raw_tag}' is not a BCP 47 language tag. Use tags such as 'zh', 'zh-Hant', 'ja' or 'pt-BR', "
            "and put the encoder for all other languages under 'default'.",
        )
    return tag


def _checked_sub_encoder(sub: SubEncoder, where: str) -> SubEncoder:
    """Check that ``sub`` names an installed encoder with a valid configuration; return it with that configuration normalised."""
    if sub.id == ENCODER_ID:
        raise PydanticCustomError(
            "nested_by_language",
            f"{where}: a by_language encoder cannot contain another by_language encoder. "
            "List all languages in the languages of this one instead.",
        )
    try:
        cls = get_registry().get("encoder", sub.id)
        validated = cls.validate_config(sub.config)
    except PluginNotInstalled as err:
        raise PydanticCustomError("unknown_encoder", f"{where}: {err}") from None
    except PluginConfigError as err:
        details = "; ".join(f"{error['field']}: {error['reason']}" for error in err.errors)
        raise PydanticCustomError(
            "invalid_sub_encoder_config", f"{where}: invalid configuration for encoder '{sub.id}': {details}"
        ) from None
    # Options left at their defaults are dropped, so equal configurations share one space fingerprint.
    return SubEncoder(id=sub.id, config=validated.model_dump(mode="json", exclude_defaults=True))


def _readable_dimension(sub: SubEncoder) -> int | None:
    """Return the sub-encoder's dimension, or None when it cannot be read yet, such as a model not downloaded."""
    try:
        return get_registry().create("encoder", sub.id, sub.config).dimension
    except Exception as err:  # noqa: BLE001 - any sub-encoder's loading error; it is raised again when the encoder is built.
        logger.info("Dimension of sub-encoder %s not checked during validation: %s", sub.id, err)
        return None


def _dimension_message(sizes: dict[str, int | None], total: int) -> str:
    parts = ", ".join(f"{name}: {size}" for name, size in sizes.items() if size is not None)
    return (
        f"The blocks add up to {total} dimensions ({parts}), more than {HNSW_MAX_DIMENSION}, the maximum of "
        "pgvector's HNSW index. Lower the dimension of a sub-encoder (for the lexical encoder, its 'dimension' option), "
        "or give several languages one tag such as 'zh' instead of 'zh-Hans' and 'zh-Hant'."
    )


def _sub_fingerprint(sub: SubEncoder) -> str:
    return config_fingerprint(sub.id, sub.config)


def _read_header(blob: bytes) -> tuple[dict, int]:
    start = len(STATE_MAGIC)
    if not blob.startswith(STATE_MAGIC) or len(blob) < start + 4:
        raise ValueError("This state was not written by the by_language encoder. Fit the encoder again.")
    (length,) = struct.unpack(">I", blob[start : start + 4])
    try:
        header = json.loads(blob[start + 4 : start + 4 + length])
    except ValueError as err:
        raise ValueError(f"The header of this by_language state is damaged ({err}). Fit the encoder again.") from err
    if not isinstance(header, dict) or header.get("format") != STATE_FORMAT or not isinstance(header.get("blocks"), list):
        raise ValueError(f"This by_language state has an unknown format; expected format {STATE_FORMAT}. Fit the encoder again.")
    return header, start + 4 + length


def _offset_progress(progress: ProgressCallback, offset: int, total: int) -> Callable[[int, int], None]:
    return lambda done, _subtotal: progress(offset + done, total)


def _normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise each row; rows of zeros, which a sub-encoder returns for a text without known terms, stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors

