"""The vector-index seam: IndexSet uses nothing of an index but the ``VectorIndex`` protocol, and makes and
opens indexes only through its ``IndexBackend`` -- so a second engine drops in without touching callers."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmrag.index.base import FaissBackend, SearchResult, VectorIndex, check_search
from mmrag.index.faiss_index import FaissIndex
from mmrag.index.index_set import IndexSet

DIM = 16
SPACE = "image"
PROTOCOL = {name for name in dir(VectorIndex) if not name.startswith("_")} | {"__len__", "dim", "spec",
                                                                               "requested_spec"}


class ProtocolOnly:
    """A real FAISS index seen through the protocol alone: any other attribute is an AttributeError."""

    def __init__(self, index: VectorIndex, used: set[str]) -> None:
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_used", used)

    def __getattr__(self, name: str) -> Any:
        if name not in PROTOCOL:
            raise AttributeError(f"IndexSet used {name!r}, which is not part of the VectorIndex protocol")
        self._used.add(name)
        return getattr(self._index, name)

    def __len__(self) -> int:
        return len(self._index)


class ProtocolOnlyBackend:
    name = "protocol-only"

    def __init__(self) -> None:
        self.faiss = FaissBackend(use_gpu=False)
        self.used: set[str] = set()
        self.calls: list[str] = []

    def create(self, path: Path, dim: int, spec: str) -> VectorIndex:
        self.calls.append(f"create {path.name} {spec}")
        return ProtocolOnly(self.faiss.create(path, dim, spec), self.used)  # type: ignore[return-value]

    def load(self, path: Path) -> tuple[VectorIndex, dict[str, Any]]:
        self.calls.append(f"load {path.name}")
        index, meta = self.faiss.load(path)
        return ProtocolOnly(index, self.used), meta  # type: ignore[return-value]


def test_faiss_index_implements_every_member_of_the_protocol() -> None:
    index = FaissIndex.create(DIM, "Flat", use_gpu=False)
    assert isinstance(index, VectorIndex)
    for name in PROTOCOL:
        assert hasattr(index, name), name


def test_index_set_runs_on_the_protocol_alone(catalog, store, clustered, tmp_path: Path) -> None:  # type: ignore
    x = clustered(300, DIM, seed=2)
    store.put(SPACE, range(1, 301), x)
    backend = ProtocolOnlyBackend()
    writer = IndexSet(catalog, tmp_path / "index", use_gpu=False, backend=backend)
    assert int(writer.search(SPACE, x[:1], 3).ids[0, 0]) == 1  # built from the catalog through the backend
    writer.add(SPACE, np.arange(301, 311), clustered(10, DIM, seed=3))
    writer.remove(SPACE, [1, 2])
    writer.save()
    status = writer.status()[SPACE]
    assert status["count"] == 308 and status["memory_bytes"] > 0 and status["device"] == "cpu"
    writer.rebuild(SPACE, "IVF4,Flat")  # from the catalog, the truth: its 300 vectors
    writer.save()
    reader = IndexSet(catalog, tmp_path / "index", use_gpu=False, writable=False, backend=backend)
    assert len(reader.get(SPACE)) == 300 and reader.get(SPACE).spec == "IVF4,Flat"
    assert int(reader.search(SPACE, x[5:6], 1).ids[0, 0]) == 6
    assert backend.calls == ["create image.faiss Flat", "create image.faiss IVF4,Flat", "load image.faiss"]
    assert backend.used <= PROTOCOL and {"add", "remove", "search", "save", "train"} <= backend.used


def test_an_empty_space_checks_search_arguments_like_an_index(catalog, tmp_path: Path) -> None:  # type: ignore
    empty = IndexSet(catalog, tmp_path / "index", use_gpu=False)
    result = empty.search(SPACE, np.ones((2, DIM), np.float32), 4)
    assert result.ids.shape == (2, 4) and (result.ids == -1).all() and np.isneginf(result.scores).all()
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        empty.search(SPACE, np.ones(DIM, np.float32), 0)
    with pytest.raises(ValueError, match="non-finite value"):
        check_search(np.full((1, DIM), np.nan, np.float32), 3)
    assert SearchResult.empty(1, 2).ids.tolist() == [[-1, -1]]


def test_index_set_calls_only_protocol_members_in_its_source() -> None:
    """Every ``.attribute`` IndexSet reads off an index (``index.``, ``ix.``, ``sp.index.``) is in the protocol."""
    import re

    from mmrag.index import index_set

    source = inspect.getsource(index_set)
    used = set(re.findall(r"\b(?:ix|index|sp\.index)\.([a-z_]+)", source))
    assert used, "the pattern finds IndexSet's index calls"
    assert used <= PROTOCOL, sorted(used - PROTOCOL)
