"""Term weights and row normalisation shared by fitting and encoding."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def weigh_counts(counts: sparse.csr_matrix, sublinear: bool) -> sparse.csr_matrix:
    """Return term weights: 1 + log(count) when ``sublinear``, else the counts."""
    weights = counts.astype(np.float32, copy=True)
    if sublinear:
        weights.data = 1.0 + np.log(weights.data)
    return weights


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Scale each row to unit length; rows of zeros stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # NOTE: a text without a single known term keeps a zero vector, which
    # has no cosine similarity to anything, so such an item matches nothing.
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0).astype(np.float32)


def normalise_sparse_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Scale each row of a sparse matrix to unit length; empty rows stay empty."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (sparse.diags(scale.astype(np.float32)) @ matrix).tocsr()
