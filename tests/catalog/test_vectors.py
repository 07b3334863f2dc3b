"""Stored vectors (float16 in the catalog), on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from mmrag.catalog import IMAGE_SPACE, TEXT_SPACE, Catalog, Vector
from mmrag.catalog.vectors import (
    count_vectors,
    delete_vectors,
    iter_vectors,
    load_vectors,
    pack,
    put_vectors,
    unpack,
    vector_ids,
)

DIM = 16


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((n, DIM)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def put(catalog: Catalog, ids: list[int], vectors: np.ndarray, space: str = IMAGE_SPACE) -> None:
    with catalog.session() as session:
        put_vectors(session, catalog, space, ids, vectors, "test-model", [f"sha{i}" for i in ids])


def all_vectors(catalog: Catalog, space: str, batch: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    parts = list(iter_vectors(catalog, space, batch=batch))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, DIM), dtype=np.float32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_pack_unpack_is_float16_little_endian() -> None:
    vectors = unit_vectors(3)
    blobs = [pack(v) for v in vectors]
    assert all(len(b) == DIM * 2 for b in blobs)
    assert np.array_equal(unpack(blobs, DIM), vectors.astype("<f2").astype(np.float32))
    assert unpack([], DIM).shape == (0, DIM)


def test_put_iter_round_trip(catalog: Catalog) -> None:
    vectors = unit_vectors(50)
    ids = list(range(100, 150))
    put(catalog, ids, vectors)
    got_ids, got = all_vectors(catalog, IMAGE_SPACE, batch=7)  # several batches
    assert got_ids.tolist() == ids
    assert got.dtype == np.float32
    assert np.array_equal(got, vectors.astype(np.float16).astype(np.float32))
    assert np.allclose(got, vectors, atol=1e-3)
    assert count_vectors(catalog, IMAGE_SPACE) == 50
    assert count_vectors(catalog, TEXT_SPACE) == 0
    assert sorted(vector_ids(catalog, IMAGE_SPACE).tolist()) == ids


def test_stored_bytes_and_metadata(catalog: Catalog) -> None:
    vectors = unit_vectors(2)
    put(catalog, [1, 2], vectors)
    with catalog.session() as session:
        rows = session.execute(select(Vector).order_by(Vector.item_id)).scalars().all()
    assert [bytes(r.data) for r in rows] == [pack(v) for v in vectors]
    assert [(r.space, r.item_id, r.model, r.dim, r.content_sha256) for r in rows] == [
        (IMAGE_SPACE, 1, "test-model", DIM, "sha1"),
        (IMAGE_SPACE, 2, "test-model", DIM, "sha2"),
    ]


def test_put_replaces_existing_vectors(catalog: Catalog) -> None:
    put(catalog, [1, 2, 3], unit_vectors(3, seed=1))
    replacement = unit_vectors(2, seed=2)
    put(catalog, [2, 3], replacement)
    ids, got = load_vectors(catalog, IMAGE_SPACE, [3, 2, 99])
    order = np.argsort(ids)
    assert ids[order].tolist() == [2, 3]
    assert np.array_equal(got[order], replacement.astype(np.float16).astype(np.float32))
    assert count_vectors(catalog, IMAGE_SPACE) == 3


def test_spaces_are_separate(catalog: Catalog) -> None:
    put(catalog, [1, 2], unit_vectors(2, seed=3), IMAGE_SPACE)
    put(catalog, [1], unit_vectors(1, seed=4), TEXT_SPACE)
    with catalog.session() as session:
        assert delete_vectors(session, catalog, TEXT_SPACE, [1, 2]) == 1
    assert vector_ids(catalog, TEXT_SPACE).tolist() == []
    assert sorted(vector_ids(catalog, IMAGE_SPACE).tolist()) == [1, 2]


def test_delete_many_in_chunks(catalog: Catalog) -> None:
    ids = list(range(1, 1201))
    put(catalog, ids, unit_vectors(len(ids), seed=5))
    with catalog.session() as session:
        assert delete_vectors(session, catalog, IMAGE_SPACE, ids[:1100]) == 1100
    assert sorted(vector_ids(catalog, IMAGE_SPACE).tolist()) == ids[1100:]
    loaded_ids, loaded = load_vectors(catalog, IMAGE_SPACE, ids)
    assert sorted(loaded_ids.tolist()) == ids[1100:] and loaded.shape == (100, DIM)


def test_generation_follows_vector_changes(catalog: Catalog) -> None:
    put(catalog, [1, 2], unit_vectors(2))
    assert catalog.generation(IMAGE_SPACE) == 1  # one bump per put, not per vector
    with catalog.session() as session:
        assert delete_vectors(session, catalog, IMAGE_SPACE, [42]) == 0
    assert catalog.generation(IMAGE_SPACE) == 1  # nothing removed, nothing bumped
    with catalog.session() as session:
        assert delete_vectors(session, catalog, IMAGE_SPACE, [1]) == 1
    assert catalog.generation(IMAGE_SPACE) == 2
    assert catalog.generation(TEXT_SPACE) == 0


def test_failed_put_leaves_vectors_and_generation(catalog: Catalog) -> None:
    put(catalog, [1], unit_vectors(1))
    with pytest.raises(RuntimeError):
        with catalog.session() as session:
            put_vectors(session, catalog, IMAGE_SPACE, [1, 2], unit_vectors(2, seed=9), "test-model")
            session.flush()
            raise RuntimeError("crash before commit")
    assert vector_ids(catalog, IMAGE_SPACE).tolist() == [1]
    assert catalog.generation(IMAGE_SPACE) == 1


def test_put_checks_lengths_and_ignores_empty(catalog: Catalog) -> None:
    with catalog.session() as session:
        with pytest.raises(ValueError, match="2 ids but 1 vectors"):
            put_vectors(session, catalog, IMAGE_SPACE, [1, 2], unit_vectors(1), "m")
        put_vectors(session, catalog, IMAGE_SPACE, [], np.zeros((0, DIM), np.float32), "m")
    assert catalog.generation(IMAGE_SPACE) == 0
    assert list(iter_vectors(catalog, IMAGE_SPACE)) == []
