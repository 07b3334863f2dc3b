"""Parent-section retrieval: chunks are matched, sections are returned.

Small chunks match a question well, but five of them often come from two sections, and a chunk alone
can miss the sentence that answers. So a ranked chunk list is collapsed to its best chunk per section
(a chunk without a section stands alone), and each hit carries its whole section — capped at
``max_chars`` around the matched chunk — as the context an answerer reads.
Measured on held-out FAQ corpora (bench/rag_eval/heldout.py; docs/rag.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ..catalog.db import Catalog
from ..catalog.models import Chunk

SectionKey = tuple[int, str]  # (asset id, section title)
CONTEXT_CHARS = 1500  # what an LLM prompt keeps of one source (answerers.base.MAX_PASSAGE_CHARS)


@dataclass(frozen=True)
class ChunkPlace:
    asset_id: int
    section: str | None
    char_start: int
    char_end: int

    @property
    def key(self) -> SectionKey | None:
        return (self.asset_id, self.section) if self.section else None


def chunk_places(catalog: Catalog, chunk_ids: Iterable[int]) -> dict[int, ChunkPlace]:
    ids = list(dict.fromkeys(chunk_ids))
    if not ids:
        return {}
    with catalog.session() as session:
        rows = session.execute(
            select(Chunk.id, Chunk.asset_id, Chunk.section, Chunk.char_start, Chunk.char_end)
            .where(Chunk.id.in_(ids))
        ).all()
    return {row[0]: ChunkPlace(row[1], row[2], row[3] or 0, row[4] or 0) for row in rows}


def collapse_to_sections(ordered: Sequence[tuple[int, float]], places: dict[int, ChunkPlace]
                         ) -> list[tuple[int, float]]:
    """Keep each section's first (best) chunk, in order; chunks without a section are kept as they are."""
    seen: set[SectionKey] = set()
    kept = []
    for chunk_id, score in ordered:
        place = places.get(chunk_id)
        key = place.key if place is not None else None
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        kept.append((chunk_id, score))
    return kept


def section_contexts(catalog: Catalog, places: dict[int, ChunkPlace], max_chars: int = CONTEXT_CHARS
                     ) -> dict[int, str]:
    """Each given chunk's section text (its chunks joined at their offsets), at most ``max_chars`` long,
    centred on the chunk when the section is longer. Chunks without a section get no entry."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars!r}")
    keys = {place.key for place in places.values() if place.key is not None}
    if not keys:
        return {}
    members = _section_chunks(catalog, keys)
    contexts = {}
    for chunk_id, place in places.items():
        if place.key is None or place.key not in members:
            continue
        start, text = _join(members[place.key])
        middle = (place.char_start + place.char_end) // 2 - start
        begin = max(0, min(len(text) - max_chars, middle - max_chars // 2))
        contexts[chunk_id] = text[begin : begin + max_chars].strip()
    return contexts


def _section_chunks(catalog: Catalog, keys: set[SectionKey]) -> dict[SectionKey, list[tuple[int, int, str]]]:
    assets = {asset for asset, _ in keys}
    with catalog.session() as session:
        rows = session.execute(
            select(Chunk.asset_id, Chunk.section, Chunk.char_start, Chunk.char_end, Chunk.text)
            .where(Chunk.asset_id.in_(assets), Chunk.section.in_({section for _, section in keys}))
            .order_by(Chunk.asset_id, Chunk.char_start)
        ).all()
    members: dict[SectionKey, list[tuple[int, int, str]]] = {}
    for asset_id, section, start, end, text in rows:
        if (asset_id, section) in keys:
            members.setdefault((asset_id, section), []).append((start or 0, end or 0, text))
    return members


def _join(pieces: list[tuple[int, int, str]]) -> tuple[int, str]:
    """Chunks of one section, in order, joined without repeating their overlaps: (start offset, text)."""
    first = pieces[0][0]
    parts, reached = [], first
    for start, end, text in pieces:
        if end <= reached:
            continue
        if start > reached:  # a gap (a segment of the same section elsewhere): keep the pieces apart
            parts.append("\n\n")
            reached = start
        parts.append(text[reached - start :])
        reached = end
    return first, "".join(parts)
