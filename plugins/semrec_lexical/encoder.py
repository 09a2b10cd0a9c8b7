"""The ``lexical`` encoder: hashed TF-IDF over words, reduced to dense vectors by truncated SVD."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from django.utils.translation import gettext_lazy
from pydantic import Field, model_validator
from scipy import sparse

from semrec.plugins import Encoder, InteractionData, PluginConfig, ProgressCallback

from .analyzer import Analyzer, HanSegmenter
from .state import LexicalState, StateMismatch, fit_state
from .weighting import normalise_rows, weigh_counts

logger = logging.getLogger(__name__)

#: Maximum dimension of pgvector's HNSW index on the ``vector`` type.
HNSW_MAX_DIMENSION = 2000
ANALYZE_CHUNK = 1000


class LexicalConfig(PluginConfig):
    dimension: int = Field(
        256,
        ge=2,
        le=HNSW_MAX_DIMENSION,
        description="Length of the vectors: SVD components, or hash buckets when svd is off. "
        "At most 2,000, the limit of pgvector's HNSW index.",
    )
    svd: bool = Field(
        True,
        description="Reduce hashed TF-IDF vectors with a truncated SVD fitted on the tenant's item texts. "
        "Off: terms are hashed straight into `dimension` buckets.",
    )
    hash_features: int = Field(2**20, ge=2**10, le=2**24, description="Hash buckets of the TF-IDF vectors before the SVD.")
    max_features: int = Field(
        50_000, ge=2, le=500_000, description="Buckets kept for the SVD: the ones in the most item texts."
    )
    min_df: int = Field(2, ge=1, description="Buckets in fewer item texts than this are dropped before the SVD.")
    sublinear_tf: bool = Field(True, description="Weigh a term by 1 + log(count) instead of its count.")
    han_segmenter: HanSegmenter = Field(
        "jieba+chars",
        description="Chinese text: 'jieba' words, 'chars' character n-grams, or both. "
        "Han characters in Japanese or Korean text are always cut into character n-grams.",
    )
    word_ngram_max: int = Field(2, ge=1, le=3, description="Maximum n of the word n-grams used as terms (1: single words).")
    char_ngram_max: int = Field(2, ge=1, le=3, description="Maximum n of the character n-grams for text cut into characters.")
    language: str = Field(
        "",
        max_length=35,
        description="Language tag assumed for texts that come without one, such as 'ja'; empty: Han text is Chinese.",
    )
    random_state: int = Field(0, description="Seed of the randomized SVD.")

    @model_validator(mode="after")
    def _enough_features(self):
        if self.svd and self.max_features < self.dimension:
            raise ValueError(
                f"max_features ({self.max_features}) must be at least dimension ({self.dimension}): "
                "the SVD cannot make more components than it has buckets."
            )
        return self


class LexicalEncoder(Encoder):
    id = "lexical"
    label = gettext_lazy("Lexical encoder (TF-IDF)")
    description = gettext_lazy(
        "Hashed TF-IDF over words, Chinese words segmented with jieba, reduced to dense vectors by a "
        "truncated SVD fitted on the tenant's item texts. Needs no torch and no model weights."
    )
    version = "0.1.0"
    Config = LexicalConfig
    trainable = True
    fits_on_texts = True

    def __init__(self, config=None):
        super().__init__(config)
        self.config: LexicalConfig
        self.analyzer = Analyzer(self.config.han_segmenter, self.config.word_ngram_max, self.config.char_ngram_max)
        self.state: LexicalState | None = None

    @property
    def model_name(self) -> str:
        mode = "tfidf-svd" if self.config.svd else "tfidf-hashing"
        return f"semrec-lexical/{mode}-{self.config.dimension}"

    @property
    def dimension(self) -> int:
        return self.config.dimension

    def encode(
        self, texts: Sequence[str], progress: ProgressCallback | None = None, languages: Sequence[str] | None = None
    ) -> np.ndarray:
        """Encode ``texts``; ``languages`` contains one tag per text ("" for unknown) when the caller knows them."""
        if self.state is None:
            _warn_unfitted_once()
        output = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), ANALYZE_CHUNK):
            stop = min(start + ANALYZE_CHUNK, len(texts))
            output[start:stop] = self._vectors(texts[start:stop], _slice(languages, start, stop))
            if progress is not None:
                progress(stop, len(texts))
        return output

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def fit_texts(
        self, texts: Sequence[str], languages: Sequence[str] | None = None, progress: ProgressCallback | None = None
    ) -> dict[str, float]:
        """Learn the IDF weights (and the SVD) from the tenant's item texts; return fit metrics."""
        counts = self._count_all(texts, languages, progress)
        self.state = fit_state(counts, self.config)
        self._fitted = True
        logger.info(
            "Fitted the lexical encoder on %d texts: %d buckets kept, %d dimensions",
            len(texts), self.state.kept_features, self.dimension,
        )
        return self.state.metrics()

    def fit(self, data: InteractionData, progress: ProgressCallback | None = None) -> dict[str, float]:
        raise NotImplementedError(
            "The lexical encoder learns from item texts, not interactions: call fit_texts() with the tenant's item texts."
        )

    def dump(self) -> bytes:
        if self.state is None:
            raise ValueError("The lexical encoder has no fitted state to save; call fit_texts() first.")
        return self.state.to_bytes()

    def load(self, blob: bytes) -> None:
        state = LexicalState.from_bytes(blob)
        try:
            state.check_matches(self.config)
        except StateMismatch as err:
            raise ValueError(f"Cannot load this lexical encoder state: {err} Fit the encoder again.") from err
        self.state = state
        self._fitted = True

    def term_counts(self, texts: Sequence[str], languages: Sequence[str] | None, buckets: int) -> sparse.csr_matrix:
        """Return term counts hashed into ``buckets`` columns, one row per text."""
        from sklearn.feature_extraction.text import HashingVectorizer

        terms = [self.analyzer(text, (languages[index] if languages else "") or self.config.language) for index, text in enumerate(texts)]
        hasher = HashingVectorizer(analyzer=_given_terms, n_features=buckets, alternate_sign=False, norm=None, dtype=np.float32)
        return hasher.transform(terms).tocsr()

    @property
    def _fitted_buckets(self) -> int:
        """Hash buckets of the fitted representation: many before an SVD, else the output length."""
        return self.config.hash_features if self.config.svd else self.config.dimension

    def _count_all(self, texts, languages, progress) -> sparse.csr_matrix:
        blocks = []
        for start in range(0, len(texts), ANALYZE_CHUNK):
            stop = min(start + ANALYZE_CHUNK, len(texts))
            blocks.append(self.term_counts(texts[start:stop], _slice(languages, start, stop), self._fitted_buckets))
            if progress is not None:
                progress(stop, len(texts))
        if not blocks:
            raise ValueError("The lexical encoder needs at least one item text to fit on.")
        return sparse.vstack(blocks).tocsr()

    def _vectors(self, texts: Sequence[str], languages: Sequence[str] | None) -> np.ndarray:
        if self.state is not None:
            return self.state.transform(self.term_counts(texts, languages, self._fitted_buckets), self.config.sublinear_tf)
        # Unfitted: terms hashed straight into `dimension` buckets, without IDF.
        counts = self.term_counts(texts, languages, self.config.dimension)
        return normalise_rows(weigh_counts(counts, self.config.sublinear_tf).toarray())

def _given_terms(terms: list[str]) -> list[str]:
    return terms


def _slice(languages: Sequence[str] | None, start: int, stop: int) -> Sequence[str] | None:
    return None if languages is None else languages[start:stop]


_warned_unfitted = False


def _warn_unfitted_once() -> None:
    global _warned_unfitted
    if not _warned_unfitted:
        _warned_unfitted = True
        logger.warning(
            "The lexical encoder is not fitted: its vectors are hashed term frequencies without IDF weights or SVD. "
            "Fit it on the tenant's item texts for better vectors."
        )
