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
PLACE_BATCH = 40  # chunk places fetched at a time while collapsing
NEIGHBOURS = 3  # chunks read on each side of a hit for its context (a chunk is ~900 characters)
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
    wanted = {chunk_id: place for chunk_id, place in places.items() if place.key is not None}
    if not wanted:
        return {}
    windows = {chunk_id: _window(place, max_chars) for chunk_id, place in wanted.items()}
    neighbours = _neighbour_chunks(catalog, wanted, windows)
    contexts = {}
    for chunk_id, place in wanted.items():
        pieces = neighbours.get(chunk_id)
        if not pieces:
            continue
        start, text = _join(pieces)
        middle = (place.char_start + place.char_end) // 2 - start
        begin = max(0, min(len(text) - max_chars, middle - max_chars // 2))
        contexts[chunk_id] = text[begin : begin + max_chars].strip()
    return contexts


def _window(place: ChunkPlace, max_chars: int) -> tuple[int, int]:
    middle = (place.char_start + place.char_end) // 2
    return middle - max_chars, middle + max_chars


def _neighbour_chunks(catalog: Catalog, wanted: dict[int, ChunkPlace], windows: dict[int, tuple[int, int]]
                      ) -> dict[int, list[tuple[int, int, str]]]:
    """For each chunk, the chunks of its section that overlap its window, in document order. A document's
    chunks are stored together, so its neighbours are the ids next to it: one ``id IN (...)`` query."""
    ids = {i for chunk_id in wanted for i in range(chunk_id - NEIGHBOURS, chunk_id + NEIGHBOURS + 1)}
    with catalog.session() as session:
        rows = session.execute(
            select(Chunk.asset_id, Chunk.section, Chunk.char_start, Chunk.char_end, Chunk.text)
            .where(Chunk.id.in_(sorted(ids))).order_by(Chunk.asset_id, Chunk.char_start)
        ).all()
    out: dict[int, list[tuple[int, int, str]]] = {}
    for chunk_id, place in wanted.items():
        low, high = windows[chunk_id]
        out[chunk_id] = [(start or 0, end or 0, text) for asset_id, section, start, end, text in rows
                         if asset_id == place.asset_id and section == place.section
                         and (end or 0) > low and (start or 0) < high]
    return out


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


def collapse_first(catalog: Catalog, ordered: Sequence[tuple[int, float]], count: int
                   ) -> tuple[list[tuple[int, float]], dict[int, ChunkPlace]]:
    """The first ``count`` results of ``ordered`` collapsed to sections, reading chunk places in batches
    (most searches need only the first batch), and the places read."""
    places: dict[int, ChunkPlace] = {}
    kept: list[tuple[int, float]] = []
    for start in range(0, len(ordered), max(PLACE_BATCH, count)):
        places |= chunk_places(catalog, [i for i, _ in ordered[start : start + max(PLACE_BATCH, count)]])
        kept = collapse_to_sections(ordered[: start + max(PLACE_BATCH, count)], places)
        if len(kept) >= count:
            break
    return kept[:count], places
