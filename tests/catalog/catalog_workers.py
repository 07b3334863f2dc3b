"""Worker processes of the concurrency tests (a module of their own, so that ``spawn`` can import them)."""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event

import numpy as np

from mmrag.catalog import IMAGE, IMAGE_SPACE, Asset, Catalog
from mmrag.catalog.vectors import count_vectors, put_vectors

DIM = 8


def vector_for(worker: int, index: int) -> np.ndarray:
    """A deterministic vector per (worker, index), exactly representable in float16."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[worker % DIM] = 1.0
    vector[(worker + 1 + index) % DIM] += 0.5 if index % 2 else -0.5
    return vector


def writer(url: str, worker: int, count: int, start: Barrier) -> None:
    """Open the catalog (racing the others on a fresh database), then commit ``count`` asset+vector pairs."""
    start.wait(timeout=120)
    catalog = Catalog(url)
    try:
        for index in range(count):
            with catalog.session() as session:
                asset = Asset(path=f"/w{worker}/{index:04d}.jpg", folder=f"/w{worker}", kind=IMAGE)
                session.add(asset)
                session.flush()
                put_vectors(session, catalog, IMAGE_SPACE, [asset.id], vector_for(worker, index)[None], "m")
    finally:
        catalog.dispose()


def reader(url: str, start: Barrier, stop: Event, results: Queue[tuple[int, int]]) -> None:
    """Search-side load: read generation and vector counts until told to stop; both may only grow."""
    start.wait(timeout=120)
    catalog = Catalog(url)
    last_generation = last_count = reads = 0
    try:
        while not stop.is_set():
            generation = catalog.generation(IMAGE_SPACE)
            count = count_vectors(catalog, IMAGE_SPACE)
            if generation < last_generation or count < last_count:
                raise AssertionError(f"went backwards: {last_generation}->{generation}, {last_count}->{count}")
            last_generation, last_count = generation, count
            reads += 1
            time.sleep(0.005)
    finally:
        catalog.dispose()
    results.put((reads, last_generation))


def meta_setter(url: str, worker: int, keys: int, start: Barrier) -> None:
    """Race the other setters to create the same new meta keys (the first-insert race of an upsert)."""
    catalog = Catalog(url)
    try:
        start.wait(timeout=120)
        for index in range(keys):
            catalog.set_meta(f"race:{index}", f"worker-{worker}")
    finally:
        catalog.dispose()
