"""Several processes writing and reading one catalog at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import SpawnProcess

import numpy as np
import pytest
from catalog_workers import meta_setter, reader, vector_for, writer
from sqlalchemy import func, select

from mmrag.catalog import IMAGE_SPACE, Asset, Catalog, Vector
from mmrag.catalog.vectors import iter_vectors

WORKERS = 4
PER_WORKER = 50

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _join(processes: list[SpawnProcess], timeout: float = 240) -> None:
    for process in processes:
        process.join(timeout)
    assert [p.exitcode for p in processes] == [0] * len(processes), "a worker failed (see its traceback above)"


def _kill_leftovers(processes: list[SpawnProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(10)


def test_concurrent_writers_lose_nothing(catalog_url: str) -> None:
    """4 spawned writers race to create the schema, then each commits 50 assets+vectors, one bump each.

    A fifth process reads generations and counts meanwhile, as a search would.
    """
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS + 1)
    stop = context.Event()
    results = context.Queue()
    writers = [
        context.Process(target=writer, args=(catalog_url, w, PER_WORKER, start), name=f"writer-{w}", daemon=True)
        for w in range(WORKERS)
    ]
    search = context.Process(target=reader, args=(catalog_url, start, stop, results), name="reader", daemon=True)
    try:
        for process in [*writers, search]:
            process.start()
        _join(writers)
        stop.set()
        reads, seen_generation = results.get(timeout=60)  # before join: a queue must be drained first
        _join([search], timeout=60)
    finally:
        stop.set()
        _kill_leftovers([*writers, search])

    catalog = Catalog(catalog_url, create=False)
    try:
        assert catalog.generation(IMAGE_SPACE) == WORKERS * PER_WORKER
        _check_rows(catalog)
    finally:
        catalog.dispose()
    assert reads > 0 and seen_generation <= WORKERS * PER_WORKER


def _check_rows(catalog: Catalog) -> None:
    with catalog.session() as session:
        assets = dict(session.execute(select(Asset.id, Asset.path)).all())
        assert session.execute(select(func.count()).select_from(Vector)).scalar_one() == WORKERS * PER_WORKER
    expected = {f"/w{w}/{i:04d}.jpg" for w in range(WORKERS) for i in range(PER_WORKER)}
    assert set(assets.values()) == expected
    for ids, vectors in iter_vectors(catalog, IMAGE_SPACE, batch=64):
        for item_id, vector in zip(ids.tolist(), vectors, strict=True):
            worker, index = assets[item_id].removeprefix("/w").removesuffix(".jpg").split("/")
            assert np.array_equal(vector, vector_for(int(worker), int(index)))


def test_concurrent_first_meta_writes_do_not_collide(catalog_url: str) -> None:
    Catalog(catalog_url).dispose()  # schema first: this test is about the meta rows
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    setters = [
        context.Process(target=meta_setter, args=(catalog_url, w, 40, start), name=f"setter-{w}", daemon=True)
        for w in range(WORKERS)
    ]
    try:
        for process in setters:
            process.start()
        _join(setters)
    finally:
        _kill_leftovers(setters)
    catalog = Catalog(catalog_url, create=False)
    try:
        values = [catalog.get_meta(f"race:{index}") for index in range(40)]
    finally:
        catalog.dispose()
    assert all(value in {f"worker-{w}" for w in range(WORKERS)} for value in values), values
