from __future__ import annotations

import json
import os
from pathlib import Path

import faiss
import numpy as np
import pytest

from mmrag.errors import IndexCorruptError
from mmrag.index import files
from mmrag.index.faiss_index import FaissIndex

DIM = 16


@pytest.fixture
def saved(tmp_path: Path, clustered) -> tuple[FaissIndex, Path, np.ndarray]:  # type: ignore[no-untyped-def]
    x = clustered(600, DIM, seed=3)
    index = FaissIndex.create(DIM, "IVF8,Flat", use_gpu=False)
    index.add(np.arange(1, 601), x)
    index.nprobe = 3
    path = tmp_path / "index" / "image.faiss"
    index.save(path, generation=7, model="clip-x")
    return index, path, x


def test_round_trip(saved) -> None:  # type: ignore[no-untyped-def]
    index, path, x = saved
    loaded, meta = FaissIndex.load(path, use_gpu=False)
    assert loaded.spec == "IVF8,Flat" and loaded.nprobe == 3 and len(loaded) == 600 and loaded.dim == DIM
    assert (loaded.search(x[:20], 5).ids == index.search(x[:20], 5).ids).all()
    loaded.remove([1])  # the id map survives the round trip
    assert len(loaded) == 599


def test_sidecar_contents(saved) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = saved
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["format_version"] == files.FORMAT_VERSION
    assert meta["dim"] == DIM and meta["metric"] == "inner_product" and meta["spec"] == "IVF8,Flat"
    assert meta["nprobe"] == 3 and meta["count"] == 600 and meta["generation"] == 7
    assert meta["model"] == "clip-x"
    assert meta["size"] == path.stat().st_size
    assert meta["checksum"].startswith("crc32:")
    assert sorted(p.name for p in path.parent.iterdir()) == ["image.faiss", "image.json"]  # no temp files


def test_hnsw_tombstones_round_trip(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    x = clustered(300, DIM, seed=4)
    index = FaissIndex.create(DIM, "HNSW8", use_gpu=False)
    index.add(np.arange(300), x)
    index.remove(np.arange(50))
    index.save(tmp_path / "t.faiss")
    loaded, _ = FaissIndex.load(tmp_path / "t.faiss", use_gpu=False)
    assert loaded.tombstones == 50 and len(loaded) == 250
    assert not np.isin(loaded.search(x[:50], 5).ids, np.arange(50)).any()


def _expect_corrupt(path: Path) -> None:
    with pytest.raises(IndexCorruptError) as info:
        FaissIndex.load(path, use_gpu=False)
    assert str(path) in str(info.value) and "mmrag rebuild" in str(info.value)


def test_truncated_file(saved) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_corrupt(path)


def test_edited_byte(saved) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    _expect_corrupt(path)


@pytest.mark.parametrize("edit", [
    lambda m: m.update(checksum="crc32:00000000"),
    lambda m: m.update(size=m["size"] + 1),
    lambda m: m.update(count=m["count"] + 1),
    lambda m: m.update(dim=m["dim"] * 2),
    lambda m: m.pop("generation"),
    lambda m: m.update(format_version=99),
])
def test_mismatching_sidecar(saved, edit) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = saved
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    edit(meta)
    side.write_text(json.dumps(meta))
    _expect_corrupt(path)


def test_missing_or_garbage_sidecar(saved) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = saved
    side = path.with_suffix(".json")
    side.write_text("{not json")
    _expect_corrupt(path)
    side.unlink()
    _expect_corrupt(path)


def test_garbage_with_a_matching_checksum_never_reaches_a_crash(saved) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = saved
    garbage = os.urandom(4096)
    path.write_bytes(garbage)
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    import zlib

    meta.update(size=len(garbage), checksum=f"crc32:{zlib.crc32(garbage):08x}")
    side.write_text(json.dumps(meta))
    _expect_corrupt(path)  # FAISS refuses it; the error is ours, not a crash


def test_missing_index_file(saved) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = saved
    path.unlink()
    _expect_corrupt(path)


def test_failed_write_keeps_the_previous_files(saved, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    index, path, _ = saved
    before = path.read_bytes(), path.with_suffix(".json").read_bytes()

    def boom(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", boom)
    with pytest.raises(OSError, match="disk full"):
        index.save(path, generation=8)
    assert (path.read_bytes(), path.with_suffix(".json").read_bytes()) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["image.faiss", "image.json"]


def test_index_is_replaced_before_its_sidecar(saved, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    index, path, _ = saved
    order: list[str] = []
    real = os.replace

    def spy(src: str, dst: str) -> None:
        order.append(Path(dst).name)
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    index.save(path, generation=9)
    assert order == ["image.faiss", "image.json"]


def test_reader_retries_when_a_writer_replaces_the_file(saved, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    index, path, _ = saved
    old_meta = files.read_sidecar(path)
    index.remove([1, 2, 3])
    index.save(path, generation=10)  # new file + new sidecar
    calls = []
    real = files.read_sidecar

    def stale_first(p: Path) -> dict:
        calls.append(p)
        return old_meta if len(calls) == 1 else real(p)

    monkeypatch.setattr(files, "read_sidecar", stale_first)
    loaded, meta = FaissIndex.load(path, use_gpu=False)
    assert meta["generation"] == 10 and len(loaded) == 597 and len(calls) == 2
