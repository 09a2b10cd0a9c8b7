"""The serving query uses the embedding space's HNSW index."""

import numpy as np
import pytest
from django.db import connection, transaction

from semrec.catalog import ingest, validation
from semrec.catalog.models import Item
from semrec.vectors.models import EmbeddingSpace, ItemVector
from semrec.vectors.search import nearest_items, nearest_items_sql, vector_literal

DIMENSION = 32
ITEMS = 3000


@pytest.fixture
def space(tenant):
    rows, errors = validation.validate_items([{"id": f"i{n}", "title": f"Item {n}"} for n in range(ITEMS)], ITEMS)
    assert not errors
    ingest.upsert_items(tenant, rows)
    space = EmbeddingSpace.objects.create(tenant=tenant, encoder_id="test", fingerprint="f" * 16, model_name="random", dimension=DIMENSION)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((ITEMS, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = list(Item.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    ItemVector.objects.bulk_create(ItemVector(space=space, item_id=pk, embedding=v, text_hash="x") for pk, v in zip(items, vectors, strict=True))
    space.ensure_index()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ItemVector._meta.db_table}")
    return space


def _plan(space, vector, exclude):
    params = {"vector": vector_literal(vector), "space": space.pk, "exclude": exclude, "limit": 10}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute("EXPLAIN " + nearest_items_sql(space), params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_nearest_query_uses_hnsw_index(space):
    vector = np.ones(DIMENSION, dtype=np.float32) / np.sqrt(DIMENSION)
    plan = _plan(space, vector, [])
    assert f"Index Scan using {space.index_name}" in plan, plan


def test_index_used_with_exclusions(space):
    vector = np.ones(DIMENSION, dtype=np.float32) / np.sqrt(DIMENSION)
    excluded = list(Item.objects.values_list("pk", flat=True)[:200])
    assert space.index_name in _plan(space, vector, excluded)


def test_nearest_items_excludes_and_orders(space):
    target = ItemVector.objects.filter(space=space).first()
    results = nearest_items(space, np.asarray(target.embedding), 20, exclude=[target.item_id])
    assert len(results) == 20
    assert target.item_id not in {item_id for item_id, _ in results}
    similarities = [similarity for _, similarity in results]
    assert similarities == sorted(similarities, reverse=True)


def test_nearest_items_skips_unavailable(space):
    target = ItemVector.objects.filter(space=space).first()
    Item.objects.filter(pk=target.item_id).update(available=False)
    results = nearest_items(space, np.asarray(target.embedding), 5)
    assert target.item_id not in {item_id for item_id, _ in results}


def test_index_created_once(space):
    space.ensure_index()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = %s", [space.index_name])
        assert cursor.fetchone()[0] == 1


def _index_state(space):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT index.indisvalid FROM pg_index AS index JOIN pg_class AS class ON class.oid = index.indexrelid WHERE class.relname = %s",
            [space.index_name],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


@pytest.mark.django_db(transaction=True)
def test_index_built_concurrently_outside_transaction(tenant):
    space = EmbeddingSpace.objects.create(tenant=tenant, encoder_id="test", fingerprint="c" * 16, model_name="random", dimension=DIMENSION)
    assert not connection.in_atomic_block

    space.ensure_index()

    assert _index_state(space) is True


@pytest.mark.django_db(transaction=True)
def test_invalid_index_rebuilt(tenant):
    space = EmbeddingSpace.objects.create(tenant=tenant, encoder_id="test", fingerprint="d" * 16, model_name="random", dimension=DIMENSION)
    space.ensure_index()
    # A CREATE INDEX CONCURRENTLY that fails midway leaves the index marked invalid like this.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false FROM pg_class WHERE pg_class.oid = pg_index.indexrelid AND pg_class.relname = %s",
            [space.index_name],
        )
    assert _index_state(space) is False

    space.ensure_index()

    assert _index_state(space) is True
