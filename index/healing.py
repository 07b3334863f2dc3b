"""The writer's self-healing view of an IndexSet (used by ingest, remove and generation's store)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..catalog import SPACES
from ..errors import IndexCorruptError
from . import files
from .index_set import IndexSet

log = logging.getLogger(__name__)


class SelfHealingIndexes:
    """The writer's view of the index set: an index file that fails its checks (a kill between writing an
    index and its sidecar leaves such a pair) is rebuilt from the stored vectors, the truth, instead of
    failing the write. Readers meanwhile search an index built in memory (IndexSet._build_instead) until the
    writer's next save replaces the file; every save first verifies each index file (files.verify_file)."""

    def __init__(self, indexes: IndexSet) -> None:
        self.indexes = indexes
        self._ready: set[str] = set()

    def _open(self, space: str) -> None:
        if space in self._ready:
            return
        try:
            self.indexes.get(space)
        except IndexCorruptError as exc:
            log.warning("%s -- rebuilding the %s index from the stored vectors", exc, space)
            self.indexes.rebuild(space)
        self._ready.add(space)

    def add(self, space: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._open(space)
        self.indexes.add(space, ids, vectors)

    def remove(self, space: str, ids: Sequence[int]) -> int:
        self._open(space)
        return self.indexes.remove(space, ids)

    def save(self, space: str | None = None) -> None:
        """Save; first repair any index file that fails its checks (sidecar, size, checksum, library id),
        even if this run did not touch that space: same-size damage is found too (files.verify_file reads
        the file once, never parses it)."""
        library_id = self.indexes.catalog.library_id()
        for name in [space] if space else SPACES:
            why = files.verify_file(self.indexes.path(name), library_id)
            if why is None and _lacks_library_id(self.indexes.path(name)):
                why = f"index {self.indexes.path(name)} is not bound to a library yet (older sidecar)"
            if why is not None:  # rebuilt even when loaded: the file on disk is what must be repaired
                log.warning("%s -- rebuilding the %s index from the stored vectors", why, name)
                self.indexes.rebuild(name)
                self._ready.add(name)
        self.indexes.save(space)


def _lacks_library_id(path: Path) -> bool:
    """A sidecar written before indexes were bound to their library (no ``library_id``)."""
    return path.exists() and files.read_sidecar(path).get("library_id") is None
