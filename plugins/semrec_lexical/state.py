"""The fitted state of the lexical encoder: IDF weights, kept buckets and SVD components."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .weighting import normalise_rows, normalise_sparse_rows, weigh_counts

#: Version of the serialised layout; a blob of another version is rejected on load.
STATE_FORMAT = 1

# Options that change which bucket a term lands in or how it is weighted. A
# state fitted under other values would give meaningless vectors.
_SIGNATURE_FIELDS = ("dimension", "svd", "hash_features", "sublinear_tf", "han_segmenter", "word_ngram_max", "char_ngram_max")


class StateMismatch(ValueError):
    """A saved state was fitted under another configuration than the encoder's."""


@dataclass
class LexicalState:
    signature: dict
    documents: int
    #: IDF weight of each kept bucket (with the SVD) or of every bucket (without).
    idf: np.ndarray
    #: Hash buckets kept for the SVD, ascending; ``None`` without the SVD.
    columns: np.ndarray | None = None
    #: SVD components, shape ``(dimension, len(columns))``; ``None`` without the SVD.
    components: np.ndarray | None = None
    explained_variance: float = 0.0

    @property
    def kept_features(self) -> int:
        return int(len(self.idf))

    def transform(self, counts: sparse.csr_matrix, sublinear: bool) -> np.ndarray:
        """Turn hashed term counts into unit-length dense vectors."""
        weights = weigh_counts(counts, sublinear)
        if self.columns is None:
            return normalise_rows(weights.multiply(self.idf).toarray())
        tfidf = normalise_sparse_rows(weights[:, self.columns].multiply(self.idf).tocsr())
        return normalise_rows(np.asarray(tfidf @ self.components.T.astype(np.float32)))

    def metrics(self) -> dict[str, float]:
        return {
            "documents": float(self.documents),
            "kept_features": float(self.kept_features),
            "explained_variance": round(self.explained_variance, 4),
        }

    def check_matches(self, config) -> None:
        expected = signature_of(config)
        if self.signature != expected:
            differences = ", ".join(
                f"{name} {self.signature.get(name)!r} (configured: {expected[name]!r})"
                for name in _SIGNATURE_FIELDS
                if self.signature.get(name) != expected[name]
            )
            raise StateMismatch(f"It was fitted with {differences}.")

    def to_bytes(self) -> bytes:
        meta = {"format": STATE_FORMAT, "signature": self.signature, "documents": self.documents, "explained_variance": self.explained_variance}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), "idf": self.idf.astype(np.float32)}
        if self.columns is not None:
            arrays["columns"] = self.columns.astype(np.int32)
            # float16 halves the artefact; cosine similarities change by about 1e-3.
            arrays["components"] = self.components.astype(np.float16)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LexicalState:
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
                meta = json.loads(arrays["meta"].tobytes().decode())
                if meta.get("format") != STATE_FORMAT:
                    raise StateMismatch(f"It has layout version {meta.get('format')!r}; this encoder reads version {STATE_FORMAT}.")
                return cls(
                    signature=meta["signature"],
                    documents=int(meta["documents"]),
                    idf=arrays["idf"],
                    columns=arrays["columns"] if "columns" in arrays else None,
                    components=arrays["components"].astype(np.float32) if "components" in arrays else None,
                    explained_variance=float(meta["explained_variance"]),
                )
        except (OSError, ValueError, KeyError) as err:
            if isinstance(err, StateMismatch):
                raise
            raise ValueError(f"The blob is not a saved lexical encoder state ({err}).") from err


def signature_of(config) -> dict:
    return {name: getattr(config, name) for name in _SIGNATURE_FIELDS}


def fit_state(counts: sparse.csr_matrix, config) -> LexicalState:
    """Fit IDF weights and, when configured, the truncated SVD on term counts of item texts."""
    documents = counts.shape[0]
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    weights = weigh_counts(counts, config.sublinear_tf)
    if not config.svd:
        return LexicalState(signature_of(config), documents, _idf(document_frequency, documents))

    columns = _kept_columns(document_frequency, config.min_df, config.max_features)
    idf = _idf(document_frequency[columns], documents)
    tfidf = normalise_sparse_rows(weights[:, columns].multiply(idf).tocsr())
    components, explained = _truncated_svd(tfidf, config.dimension, config.random_state)
    return LexicalState(signature_of(config), documents, idf, columns, components, explained)


def _idf(document_frequency: np.ndarray, documents: int) -> np.ndarray:
    # Smoothed IDF, as if one more text held every term once, so no weight is infinite.
    return (np.log((1.0 + documents) / (1.0 + document_frequency)) + 1.0).astype(np.float32)


def _kept_columns(document_frequency: np.ndarray, min_df: int, max_features: int) -> np.ndarray:
    candidates = np.flatnonzero(document_frequency >= min_df)
    if len(candidates) < 2:
        raise ValueError(
            f"Only {len(candidates)} term bucket(s) occur in at least min_df={min_df} item texts, too few to fit an SVD. "
            "Fit on more item texts or lower min_df."
        )
    # Most frequent first; a stable sort keeps ties in bucket order, so refits are reproducible.
    by_frequency = candidates[np.argsort(-document_frequency[candidates], kind="stable")]
    return np.sort(by_frequency[:max_features])


def _truncated_svd(tfidf: sparse.csr_matrix, dimension: int, random_state: int) -> tuple[np.ndarray, float]:
    from sklearn.utils.extmath import randomized_svd

    rank = min(dimension, *tfidf.shape)
    _, singular_values, components = randomized_svd(tfidf, rank, n_iter=5, random_state=random_state)
    total = float(tfidf.multiply(tfidf).sum())
    explained = float(np.sum(singular_values**2) / total) if total else 0.0

    # A corpus smaller than `dimension` gives fewer components; the rest stay
    # zero so that every vector keeps the configured length.
    padded = np.zeros((dimension, tfidf.shape[1]), dtype=np.float32)
    padded[:rank] = components
    return padded, explained

