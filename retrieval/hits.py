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
class DuplicateGroup:
    """Near-duplicate images: ``ids``/``paths`` in the same order; ``similarity`` is the lowest pairwise cosine."""

    ids: list[int]
    paths: list[str]
    similarity: float
    max_hash_distance: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
