"""Result types shared by search, RAG and the UI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Hit:
    """One search result. Image hits carry an asset; text hits also carry the chunk they matched."""

    id: int  # asset id
    path: str
    score: float
    kind: str
    width: int | None = None
    height: int | None = None
    chunk_id: int | None = None
    text: str | None = None
    page: int | None = None
    section: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, {})}


@dataclass
class DuplicatePair:
    """Two images found to be the same picture: ``label`` says how they relate (``retrieval.dedup_verify``
    LABELS: exact bytes, same pixels, resized/re-encoded, edited, crop, rotation, mirror)."""

    a: int  # asset id
    b: int
    label: str
    confidence: float  # 0.5 at the documented thresholds, 1.0 for certain


@dataclass
class DuplicateGroup:
    """Copies of one picture: ``ids``/``paths`` in the same order, the best original first (``best_id``);
    ``pairs`` are the verified pairs that joined the group; ``confidence`` is the lowest of theirs."""

    ids: list[int]
    paths: list[str]
    best_id: int
    confidence: float
    pairs: list[DuplicatePair] = field(default_factory=list)

    @property
    def best_path(self) -> str:
        return self.paths[self.ids.index(self.best_id)]

    @property
    def labels(self) -> list[str]:
        return sorted({pair.label for pair in self.pairs})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_path": self.best_path, "labels": self.labels}
