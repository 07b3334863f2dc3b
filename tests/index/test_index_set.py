from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from mmrag.catalog import Vector
from mmrag.errors import LibraryError
from mmrag.index import index_set as index_set_module
from mmrag.index import spec as spec_module
from mmrag.index.index_set import IndexSet

DIM = 16
SPACE = "image"


@pytest.fixture
def vecs(clustered):  # type: ignore[no-untyped-def]
    return clustered(400, DIM, seed=5)


@pytest.fixture
def filled(store, vecs):  # type: ignore[no-untyped-def]
    """Items 1..300 stored in the catalog."""
    store.put(SPACE, range(1, 301), vecs[:300])
    return store


def open_set(catalog, tmp_path: Path, **kw) -> IndexSet:  # type: ignore[no-untyped-def]
    kw.setdefault("use_gpu", False)
    return IndexSet(catalog, tmp_path / "index", **kw)


def top1(ix: IndexSet, q: np.ndarray) -> int:
    return int(ix.search(SPACE, q, 1).ids[0, 0])


def row_ids(catalog, item_ids) -> dict[int, int]:  # type: ignore[no-untyped-def]
    with catalog.session() as s:
        rows = s.execute(select(Vector.item_id, Vector.id).where(Vector.space == SPACE,
                                                                Vector.item_id.in_(item_ids))).all()
    return dict(rows)


def test_builds_from_catalog_and_saves(catalog, filled, vecs, tmp_path) -> None:  # type: ignore
    ix = open_set(catalog, tmp_path)
    index = ix.get(SPACE)
    assert index is not None and len(index) == 300 and index.spec == "Flat"
    assert top1(ix, vecs[42]) == 43
    assert ix.get("text") is None  # no vectors in that space yet
    assert ix.search("text", np.ones(8, np.float32), 3).ids.tolist() == [[-1, -1, -1]]
    assert ix.save() == [tmp_path / "index" / "image.faiss"]
    meta = json.loads((tmp_path / "index" / "image.json").read_text())
    assert meta["generation"] == catalog.generation(SPACE) and meta["count"] == 300
    assert meta["model"] == "test-model" and meta["policy"] == "auto"


def test_loads_saved_file_without_rebuilding(catalog, filled, vecs, tmp_path, monkeypatch) -> None:  # type: ignore
    first = open_set(catalog, tmp_path)
    first.get(SPACE)
    first.save()
    monkeypatch.setattr(IndexSet, "_build", lambda *a: pytest.fail("rebuilt instead of loading"))
    monkeypatch.setattr(index_set_module, "load_vectors", lambda *a: pytest.fail("synced a fresh file"))
    ix = open_set(catalog, tmp_path)
    assert len(ix.get(SPACE)) == 300 and top1(ix, vecs[7]) == 8


def test_stale_file_is_synced(catalog, filled, store, vecs, clustered, tmp_path) -> None:  # type: ignore
    writer = open_set(catalog, tmp_path)
    writer.get(SPACE)
    writer.save()
    # Another process changes the catalog without touching the index file:
    store.put(SPACE, range(301, 351), vecs[300:350])  # additions
    store.delete(SPACE, range(1, 21))  # deletions
    fresh = clustered(1, DIM, seed=99)
    rows_before = row_ids(catalog, [100])
    store.put(SPACE, [100], fresh)  # a re-embedded item keeps its id, gets a new row
    assert row_ids(catalog, [100])[100] > rows_before[100]
    ix = open_set(catalog, tmp_path, writable=False)
    index = ix.get(SPACE)
    assert set(index.ids()) == set(range(21, 351))
    assert top1(ix, vecs[320]) == 321
    assert top1(ix, fresh) == 100
    assert top1(ix, vecs[99]) != 100


def test_reembedding_the_newest_item_is_seen(catalog, filled, store, clustered, tmp_path) -> None:
    ix = open_set(catalog, tmp_path, writable=False)
    ix.get(SPACE)
    newest = row_ids(catalog, [300])[300]
    fresh = clustered(1, DIM, seed=77)
    store.put(SPACE, [300], fresh)
    # catalogs made before vectors had AUTOINCREMENT hand the deleted max rowid out again (an id-only
    # comparison cannot see that case); new ones give the next id
    assert row_ids(catalog, [300])[300] in (newest, newest + 1)
    ix.refresh()
    assert top1(ix, fresh) == 300
    assert ix.search(SPACE, fresh, 1).scores[0, 0] > 0.99


def test_replaced_newest_rows_get_new_row_ids_and_are_seen(catalog, filled, store, clustered, tmp_path,
                                                          monkeypatch) -> None:  # type: ignore
    """Deleting the newest rows and storing the same items again never reuses their row ids (AUTOINCREMENT),
    so "rows above the recorded maximum" finds every re-embedded item, however small the tail window."""
    monkeypatch.setattr(index_set_module, "TAIL_ROWS", 4)
    ix = open_set(catalog, tmp_path, writable=False)
    ix.get(SPACE)
    before = row_ids(catalog, range(291, 301))
    fresh = clustered(10, DIM, seed=55)
    store.delete(SPACE, range(291, 301))  # the 10 newest rows
    store.put(SPACE, range(291, 301), fresh)  # same items, new vectors
    after = row_ids(catalog, range(291, 301))
    assert min(after.values()) > max(before.values())
    ix.refresh(SPACE)
    for i, item in enumerate(range(291, 301)):
        assert top1(ix, fresh[i]) == item
    assert len(ix.get(SPACE)) == 300


def test_readers_never_write(catalog, filled, store, vecs, tmp_path) -> None:  # type: ignore
    reader = open_set(catalog, tmp_path, writable=False)
    assert len(reader.get(SPACE)) == 300
    assert not (tmp_path / "index").exists()
    with pytest.raises(LibraryError, match="read-only"):
        reader.save()
    writer = open_set(catalog, tmp_path)
    writer.get(SPACE)
    writer.save()
    stamp = (tmp_path / "index" / "image.faiss").stat().st_mtime_ns, (tmp_path / "index" / "image.json").read_text()
    store.put(SPACE, range(301, 311), vecs[300:310])
    reader2 = open_set(catalog, tmp_path, writable=False)
    assert len(reader2.get(SPACE)) == 310  # synced in memory
    reader.refresh()
    assert len(reader.get(SPACE)) == 310
    assert stamp == ((tmp_path / "index" / "image.faiss").stat().st_mtime_ns,
                     (tmp_path / "index" / "image.json").read_text())


def test_writer_add_remove_then_save_is_current(catalog, filled, store, vecs, tmp_path, monkeypatch) -> None:
    ix = open_set(catalog, tmp_path)
    ix.get(SPACE)
    store.put(SPACE, range(301, 321), vecs[300:320])  # ingest: commit, then tell the index
    ix.add(SPACE, np.arange(301, 321), vecs[300:320])
    store.delete(SPACE, [5, 6])
    assert ix.remove(SPACE, [5, 6]) == 2
    loads = []
    real = index_set_module.load_vectors
    monkeypatch.setattr(index_set_module, "load_vectors", lambda *a: loads.append(a[2]) or real(*a))
    ix.save()
    assert not loads  # the writer's own additions are not loaded again
    meta = json.loads((tmp_path / "index" / "image.json").read_text())
    assert meta["generation"] == catalog.generation(SPACE) and meta["count"] == 318
    assert len(open_set(catalog, tmp_path).get(SPACE)) == 318
    ix.add(SPACE, [301], vecs[:1])  # replacing a vector under the same id
    assert top1(ix, vecs[0]) in (1, 301) and len(ix.get(SPACE)) == 318
    ix.add(SPACE, [500, 500], vecs[390:392])  # the last vector of an id wins
    assert top1(ix, vecs[391]) == 500 and top1(ix, vecs[390]) != 500 and len(ix.get(SPACE)) == 319


def test_save_picks_up_changes_the_writer_missed(catalog, filled, store, vecs, tmp_path) -> None:  # type: ignore
    ix = open_set(catalog, tmp_path)
    ix.get(SPACE)
    store.put(SPACE, range(301, 311), vecs[300:310])  # committed, but the index was never told
    ix.save()
    assert len(open_set(catalog, tmp_path).get(SPACE)) == 310


def test_corrupt_file_is_replaced_by_one_built_from_the_catalog(catalog, filled, vecs, tmp_path,
                                                                caplog) -> None:  # type: ignore
    """A damaged index file never takes searches down: the space is built in memory from the stored vectors
    (with a warning naming the file and the way out) and the writer's next save replaces the file."""
    writer = open_set(catalog, tmp_path)
    writer.get(SPACE)
    writer.save()
    path = tmp_path / "index" / "image.faiss"
    path.write_bytes(path.read_bytes()[:-100])
    ix = open_set(catalog, tmp_path)
    with caplog.at_level(logging.WARNING, logger="mmrag.index.index_set"):
        assert top1(ix, vecs[3]) == 4
    assert str(path) in caplog.text and "mmrag rebuild" in caplog.text
    ix.save()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mmrag.index.index_set"):
        assert top1(open_set(catalog, tmp_path), vecs[3]) == 4
    assert caplog.text == ""  # the saved file is whole again


def test_model_or_dim_mismatch_is_corrupt(catalog, filled, store, clustered, tmp_path, caplog) -> None:  # type: ignore
    writer = open_set(catalog, tmp_path)
    writer.get(SPACE)
    writer.save()
    catalog.set_meta(f"model:{SPACE}", "another-model")
    with caplog.at_level(logging.WARNING, logger="mmrag.index.index_set"):
        assert len(open_set(catalog, tmp_path).get(SPACE)) == 300  # built from the catalog instead
    assert "another-model" in caplog.text and "mmrag rebuild" in caplog.text
    catalog.set_meta(f"model:{SPACE}", "test-model")
    store.delete(SPACE, range(1, 301))
    fresh = clustered(2, DIM * 2, seed=1)
    store.put(SPACE, [1, 2], fresh)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mmrag.index.index_set"):
        assert top1(open_set(catalog, tmp_path), fresh[1]) == 2
    assert "dim" in caplog.text


def test_auto_policy_turns_flat_into_ivf_on_save(catalog, filled, store, vecs, tmp_path, monkeypatch) -> None:
    ix = open_set(catalog, tmp_path)
    assert ix.get(SPACE).spec == "Flat"
    monkeypatch.setattr(spec_module, "FLAT_MAX_FLOATS", 320 * DIM)
    store.put(SPACE, range(301, 401), vecs[300:400])
    ix.add(SPACE, np.arange(301, 401), vecs[300:400])
    assert ix.get(SPACE).spec == "Flat"  # adding never retrains
    ix.save()
    index = ix.get(SPACE)
    assert index.spec.startswith("IVF") and len(index) == 400
    assert json.loads((tmp_path / "index" / "image.json").read_text())["spec"] == index.spec
    assert top1(ix, vecs[350]) == 351


def test_rebuild_with_a_new_spec_and_status(catalog, filled, vecs, tmp_path) -> None:  # type: ignore
    ix = open_set(catalog, tmp_path)
    ix.rebuild(SPACE, "HNSW8")
    ix.save()
    status = ix.status()
    assert set(status) == {"image", "text"}
    image = status["image"]
    assert image["spec"] == "HNSW8" and image["count"] == 300 and image["device"] == "cpu"
    assert image["file_bytes"] > 0 and image["memory_bytes"] > 300 * DIM * 4 and image["policy"] == "HNSW8"
    assert status["text"]["file_bytes"] is None
    assert open_set(catalog, tmp_path).status()["image"]["spec"] == "HNSW8"  # from the sidecar, not loaded
    reopened = open_set(catalog, tmp_path)
    assert reopened.get(SPACE).spec == "HNSW8" and top1(reopened, vecs[9]) == 10
    with pytest.raises(ValueError, match="'IVF,Flat'"):
        ix.rebuild(SPACE, "IVF,Flat")
    with pytest.raises(ValueError, match="unknown vector space 'audio'"):
        ix.get("audio")


def test_concurrent_searches_and_writes(catalog, filled, vecs, tmp_path) -> None:  # type: ignore
    ix = open_set(catalog, tmp_path)
    ix.get(SPACE)
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for i in range(200):
                result = ix.search(SPACE, vecs[i % 300], 5)
                assert (result.ids >= 0).all()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(301, 401):
        ix.add(SPACE, [i], vecs[i - 1:i])
        ix.remove(SPACE, [i - 300])
    for t in threads:
        t.join()
    assert not errors
    assert len(ix.get(SPACE)) == 300


@pytest.mark.parametrize("image_rows, text_rows_after", [(60, 5), (60, 40), (12, 700)])
def test_tail_marks_equal_the_newest_rows_of_the_space(catalog, store, clustered, monkeypatch,
                                                       image_rows, text_rows_after) -> None:  # type: ignore
    """The newest rows of a space are found by walking the table's newest rows backwards; however sparse the
    space is among them (other spaces' rows written after it), the marks are the space's newest rows."""
    monkeypatch.setattr(index_set_module, "TAIL_ROWS", 8)  # windows of 32 and 512 rows, then the space index
    store.put("text", range(1, 31), clustered(30, DIM, seed=1))
    store.put(SPACE, range(1, image_rows + 1), clustered(image_rows, DIM, seed=2))
    for start in range(0, text_rows_after, 100):  # later text rows push the image rows away from the top
        ids = range(1000 + start, 1000 + min(start + 100, text_rows_after))
        store.put("text", ids, clustered(len(ids), DIM, seed=start))
    with catalog.session() as s:
        rows = s.execute(select(Vector.id, Vector.item_id).where(Vector.space == SPACE)
                         .order_by(Vector.id.desc()).limit(8)).all()
    max_row, tail = index_set_module._row_marks(catalog, SPACE)
    assert max_row == rows[0].id
    assert tail[:, :2].tolist() == [[r.id, r.item_id] for r in rows]
