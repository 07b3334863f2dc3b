"""A library whose vectors live in Milvus (a real server, tests/milvus_server.py) answers like one on FAISS:
same hits for the same files, through ingest, filters, removal, re-ingest, rebuild and a reopen.

The two libraries are ingested once per module; the tests that change them run last, in file order.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmrag import Library

pytestmark = pytest.mark.integration


def _open(path: Path, clip: Any, **overrides: Any) -> Library:
    return Library(path, clip=clip, clip_model="tiny-test", device="cpu", **overrides)


@pytest.fixture(scope="module")
def world(sample_photos: Path, tiny_clip: Any, milvus_uri: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("milvus-vs-faiss")
    photos = root / "photos"
    shutil.copytree(sample_photos, photos)
    faiss_lib = _open(root / "faiss", tiny_clip)
    milvus_lib = _open(root / "milvus", tiny_clip, index_backend="milvus", milvus_uri=milvus_uri)
    for lib in (faiss_lib, milvus_lib):
        lib.ingest([photos])
    state = {"faiss": faiss_lib, "milvus": milvus_lib, "photos": photos, "clip": tiny_clip, "uri": milvus_uri}
    yield state
    state["faiss"].close()
    state["milvus"].close()


def _ranking(hits: list[Any]) -> list[tuple[str, float]]:
    return [(Path(h.path).name, round(float(h.score), 4)) for h in hits]


def test_same_hits_as_faiss(world: dict[str, Any]) -> None:
    faiss_lib, milvus_lib = world["faiss"], world["milvus"]
    for query in ("a cat", "a rocket on a launch pad", "coins"):
        assert _ranking(milvus_lib.search_text(query, k=5)) == _ranking(faiss_lib.search_text(query, k=5))
    image = next(world["photos"].glob("*.jpg"))
    assert _ranking(milvus_lib.search_image(image, k=4)) == _ranking(faiss_lib.search_image(image, k=4))


def test_filters_and_similar_match_faiss(world: dict[str, Any]) -> None:
    faiss_lib, milvus_lib = world["faiss"], world["milvus"]
    seed = faiss_lib.search_text("a photo", k=1)[0]
    flt = {"after": "1900-01-01", "kind": "image"}
    assert _ranking(milvus_lib.search_text("a photo", k=3, filters=flt)) == \
        _ranking(faiss_lib.search_text("a photo", k=3, filters=flt))
    twin = next(h for h in milvus_lib.search_text("a photo", k=1))
    assert _ranking(milvus_lib.similar(twin.id, k=3)) == _ranking(faiss_lib.similar(seed.id, k=3))


def test_removal_reingest_and_rebuild_stay_in_step(world: dict[str, Any]) -> None:
    lib, photos = world["milvus"], world["photos"]
    total = lib.status()["vectors"]["image"]
    victim = sorted(photos.glob("*.jpg"))[0]
    lib.remove([victim])
    assert victim.name not in {Path(h.path).name for h in lib.search_image(victim, k=50)}
    lib.ingest([photos])
    assert Path(lib.search_image(victim, k=1)[0].path).name == victim.name
    before = _ranking(lib.search_text("a cat", k=5))
    lib.rebuild()
    assert _ranking(lib.search_text("a cat", k=5)) == before
    assert lib.status()["vectors"]["image"] == total


def test_a_reopened_library_finds_its_collection(world: dict[str, Any]) -> None:
    lib = world["milvus"]
    expected = _ranking(lib.search_text("a cat", k=5))
    lib.close()
    world["milvus"] = _open(lib.path, world["clip"], index_backend="milvus", milvus_uri=world["uri"])
    assert _ranking(world["milvus"].search_text("a cat", k=5)) == expected


def test_a_lost_collection_is_rebuilt_from_the_catalog(world: dict[str, Any]) -> None:
    from pymilvus import MilvusClient

    from mmrag.index.milvus_index import GRPC_OPTIONS

    lib = world["milvus"]
    expected = _ranking(lib.search_text("a cat", k=5))
    lib.close()
    client = MilvusClient(uri=world["uri"], grpc_options=GRPC_OPTIONS)
    for name in client.list_collections():
        client.drop_collection(name)  # the Milvus data is gone; the catalog still has every vector
    world["milvus"] = _open(lib.path, world["clip"], index_backend="milvus", milvus_uri=world["uri"])
    assert _ranking(world["milvus"].search_text("a cat", k=5)) == expected


def test_switching_a_faiss_library_to_milvus_rebuilds_from_the_catalog(world: dict[str, Any]) -> None:
    lib = world["faiss"]
    expected = _ranking(lib.search_text("a cat", k=5))
    lib.close()
    world["faiss"] = _open(lib.path, world["clip"], index_backend="milvus", milvus_uri=world["uri"])
    assert _ranking(world["faiss"].search_text("a cat", k=5)) == expected


def test_milvus_lite_file_uri(world: dict[str, Any], tmp_path: Path) -> None:
    lib = _open(tmp_path / "lite", world["clip"], index_backend="milvus", milvus_uri=str(tmp_path / "vectors.db"))
    try:
        report = lib.ingest([world["photos"]])
        assert report.added == world["faiss"].status()["vectors"]["image"]
        hits = lib.search_text("a cat", k=3)
        assert len(hits) == 3 and len({h.id for h in hits}) == 3
        assert np.isfinite([h.score for h in hits]).all()
    finally:
        lib.close()
