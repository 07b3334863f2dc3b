"""Fast index opens: verification stamps instead of a full CRC on every open, and memory-mapped IVF lists."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from mmrag.errors import IndexCorruptError
from mmrag.index import files
from mmrag.index.faiss_index import FaissIndex

DIM = 16


@pytest.fixture
def saved(tmp_path: Path, clustered, monkeypatch) -> tuple[Path, np.ndarray]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(files, "RACY_NS", 0)  # no 2 s wait before a fresh file may be stamped
    x = clustered(800, DIM, seed=5)
    index = FaissIndex.create(DIM, "IVF8,Flat", use_gpu=False)
    index.add(np.arange(1, 801), x)
    index.nprobe = 8
    path = tmp_path / "image.faiss"
    index.save(path, generation=3)
    time.sleep(0.05)  # past the file's last timestamp tick
    return path, x


@pytest.fixture
def crc_calls(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Counts full-file CRC passes (the real function still runs)."""
    calls: list[int] = []
    real = files._checksum

    def counting(f):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(f)

    monkeypatch.setattr(files, "_checksum", counting)
    return calls


def test_first_open_checks_in_full_and_later_opens_trust_the_stamp(saved, crc_calls) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    FaissIndex.load(path, use_gpu=False)
    assert len(crc_calls) == 1 and files.stamp_path(path).exists()
    FaissIndex.load(path, use_gpu=False)
    FaissIndex.load(path, use_gpu=False, mmap=True)
    assert len(crc_calls) == 1, "an unchanged, stamped file is not read again"
    FaissIndex.load(path, use_gpu=False, full_check=True)
    assert len(crc_calls) == 2


def test_same_size_edit_after_the_stamp_is_caught(saved) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    FaissIndex.load(path, use_gpu=False)
    time.sleep(0.05)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="checksum"):
        FaissIndex.load(path, use_gpu=False, mmap=True)


def test_a_reboot_means_a_full_check(saved, crc_calls) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    FaissIndex.load(path, use_gpu=False)
    stamp = json.loads(files.stamp_path(path).read_text())
    stamp["boot"] = "another-boot"  # what the stamp looks like after an (unclean) shutdown and restart
    files.stamp_path(path).write_text(json.dumps(stamp))
    FaissIndex.load(path, use_gpu=False)
    assert len(crc_calls) == 2


def test_a_racy_file_is_never_stamped(saved, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    monkeypatch.setattr(files, "RACY_NS", 3_600 * 10**9)
    FaissIndex.load(path, use_gpu=False)
    assert not files.stamp_path(path).exists()


def test_a_garbage_stamp_is_ignored(saved, crc_calls) -> None:  # type: ignore[no-untyped-def]
    path, _ = saved
    files.stamp_path(path).write_text("{not json")
    FaissIndex.load(path, use_gpu=False)
    assert len(crc_calls) == 1


def test_mapped_ivf_searches_like_a_read_one_and_changes_after_copying_in(saved) -> None:  # type: ignore[no-untyped-def]
    path, x = saved
    read, _ = FaissIndex.load(path, use_gpu=False)
    mapped, meta = FaissIndex.load(path, use_gpu=False, mmap=True)
    assert mapped.mapped and not read.mapped and len(mapped) == meta["count"] == 800
    q = x[:20]
    assert np.array_equal(mapped.search(q, 10).ids, read.search(q, 10).ids)
    assert mapped.contains([1, 800, 801]).tolist() == [True, True, False]
    mapped.add(np.array([801, 802]), x[:2])
    assert not mapped.mapped and len(mapped) == 802
    assert mapped.remove([1, 2, 3]) == 3 and len(mapped) == 799
    assert set(mapped.search(x[:1], 5).ids[0]) & {801}
    mapped.save(path, generation=4)
    again, _ = FaissIndex.load(path, use_gpu=False, mmap=True)
    assert len(again) == 799 and np.array_equal(again.search(q, 10).ids, mapped.search(q, 10).ids)


def test_flat_and_hnsw_ignore_mmap(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    x = clustered(300, DIM, seed=2)
    for spec in ("Flat", "HNSW16"):
        index = FaissIndex.create(DIM, spec, use_gpu=False)
        index.add(np.arange(300), x)
        path = tmp_path / f"{spec}.faiss"
        index.save(path, generation=0)
        loaded, _ = FaissIndex.load(path, use_gpu=False, mmap=True)
        assert not loaded.mapped and np.array_equal(loaded.search(x[:5], 3).ids, index.search(x[:5], 3).ids)
        loaded.add(np.array([1000]), x[:1])
        assert len(loaded) == 301
