"""Cut a loaded document into passages with llama-index's SentenceSplitter, one segment (page/section) at a
time, measuring sizes in the embedder's own word pieces so no chunk is silently truncated by the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .text import LoadedDocument, Segment

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
SECTION_BUDGET = 24  # word pieces kept free for the section title prepended before embedding
MIN_SEGMENT_WORDS = 8  # smaller segments (a lone heading) join the next segment on the same page


@dataclass
class ChunkSpec:
    """One passage: its text is exactly ``document_text[char_start:char_end]``."""

    text: str
    page: int | None
    section: str | None
    char_start: int
    char_end: int


def effective_chunk_size(chunk_size: int, max_seq_length: int | None) -> int:
    """The configured chunk size, capped so section title + chunk fit the embedder's max_seq_length."""
    if max_seq_length is None or max_seq_length <= 0:
        return chunk_size
    return max(16, min(chunk_size, max_seq_length - SPECIAL_TOKENS - SECTION_BUDGET))


def embedding_text(section: str | None, text: str) -> str:
    """What the embedder and BM25 read for a chunk: the section title (context) then the chunk itself."""
    if section and not text.lstrip().startswith(section):
        return f"{section}\n{text}"
    return text


def chunk_document(
    document: LoadedDocument,
    chunk_size: int,
    chunk_overlap: int,
    tokenizer: Callable[[str], list[Any]] | None = None,
) -> list[ChunkSpec]:
    """Split every segment with a SentenceSplitter; chunks carry page, section and exact offsets."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size!r}")
    splitter = make_splitter(chunk_size, chunk_overlap, tokenizer)
    chunks: list[ChunkSpec] = []
    for segment in merge_small_segments(document.text, document.segments):
        body = document.text[segment.start : segment.end]
        if not body.strip():
            continue
        cursor, reached = 0, 0
        for piece in splitter.split_text(body):
            start = _locate(body, piece, cursor, reached)
            cursor, reached = start + 1, max(reached, start + len(piece))
            begin, end = segment.start + start, segment.start + start + len(piece)
            chunks.append(ChunkSpec(document.text[begin:end], segment.page, segment.section, begin, end))
    return chunks


def make_splitter(chunk_size: int, chunk_overlap: int, tokenizer: Callable[[str], list[Any]] | None) -> Any:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.node_parser import SentenceSplitter

    overlap = max(0, min(chunk_overlap, chunk_size // 2))
    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        tokenizer=tokenizer,
        paragraph_separator="\n\n",
        callback_manager=CallbackManager([]),
        include_metadata=False,
        include_prev_next_rel=False,
    )


def merge_small_segments(text: str, segments: list[Segment]) -> list[Segment]:
    """Join a segment of a few words (a heading followed at once by a sub-heading) into the next one."""
    merged: list[Segment] = []
    carry: Segment | None = None
    for index, segment in enumerate(segments):
        if carry is not None:
            segment = Segment(carry.start, segment.end, carry.page, segment.section)
            carry = None
        nxt = segments[index + 1] if index + 1 < len(segments) else None
        small = len(text[segment.start : segment.end].split()) < MIN_SEGMENT_WORDS
        if small and nxt is not None and nxt.page == segment.page and nxt.start == segment.end:
            carry = segment
            continue
        merged.append(segment)
    return merged


def _locate(body: str, piece: str, cursor: int, reached: int) -> int:
    """Where the splitter's piece starts in the segment text.

    Pieces are substrings, in order, each starting after the previous one and reaching past its end (the
    overlap is at the start), so a short piece such as "0" is not matched inside the previous chunk."""
    found = body.find(piece, cursor)
    first = found
    while found >= 0 and found + len(piece) <= reached:
        found = body.find(piece, found + 1)
    if found >= 0:
        return found
    if first >= 0:
        return first
    found = body.find(piece)
    if found < 0:  # not expected from SentenceSplitter; fall back to the best anchor we have
        found = body.find(piece[: max(1, min(len(piece), 40))], cursor)
    return found if found >= 0 else min(cursor, max(len(body) - 1, 0))
