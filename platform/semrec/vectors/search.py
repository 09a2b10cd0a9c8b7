"""pgvector queries: nearest items and vector look-ups within one space."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.db import connection, transaction

from .models import EmbeddingSpace, ItemVector

#: Upper bound for hnsw.ef_search; pgvector accepts at most 1000.
MAX_EF_SEARCH = 1000


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{value:.7g}" for value in np.asarray(vector, dtype=np.float32)) + "]"


def nearest_items_sql(space: EmbeddingSpace) -> str:
    """Return the nearest-neighbour SQL, whose inner scan uses the space's HNSW index."""
    dimension = int(space.dimension)
    return f"""
        WITH nearest AS MATERIALIZED (
            SELECT item_id, embedding::vector({dimension}) <=> %(vector)s::vector({dimension}) AS distance
            FROM {ItemVector._meta.db_table}
            WHERE space_id = %(space)s AND NOT (item_id = ANY(%(exclude)s))
            ORDER BY embedding::vector({dimension}) <=> %(vector)s::vector({dimension})
            LIMIT %(limit)s
        )
        SELECT nearest.item_id, 1 - nearest.distance
        FROM nearest JOIN catalog_item item ON item.id = nearest.item_id
        WHERE item.available
        ORDER BY nearest.distance
    """


def nearest_items(space: EmbeddingSpace, vector: np.ndarray, k: int, exclude: Sequence[int] = ()) -> list[tuple[int, float]]:
    """Return up to ``k`` available ``(item_id, cosine similarity)`` pairs, nearest first."""
    if k <= 0:
        return []
    params = {"vector": vector_literal(vector), "space": space.pk, "exclude": list(exclude), "limit": k}
    with transaction.atomic(), connection.cursor() as cursor:
        # Iterative scans keep walking the graph until LIMIT rows pass the
        # exclusion filter, instead of stopping after ef_search candidates.
        cursor.execute(
            "SET LOCAL hnsw.iterative_scan = relaxed_order; "
            f"SET LOCAL hnsw.ef_search = {min(max(k, 40), MAX_EF_SEARCH)}"
        )
        cursor.execute(nearest_items_sql(space), params)
        return [(item_id, float(similarity)) for item_id, similarity in cursor.fetchall()]


def item_vectors(space: EmbeddingSpace, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Return ``{item_id: vector}`` for those of ``item_ids`` encoded in ``space``."""
    if not item_ids:
        return {}
    with connection.cursor() as cursor:
        # vector_send is pgvector's binary output: a 2-byte dimension, 2
        # unused bytes, then big-endian float4 values. Reading it is about ten
        # times faster than parsing the text form of hundreds of vectors.
        cursor.execute(
            f"SELECT item_id, vector_send(embedding) FROM {ItemVector._meta.db_table} "
            "WHERE space_id = %s AND item_id = ANY(%s)",
            [space.pk, list(item_ids)],
        )
        return {item_id: _from_binary(data) for item_id, data in cursor.fetchall()}


def _from_binary(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)
