"""Cut a loaded document into passages with llama-index's SentenceSplitter, one segment (page/section) at a
time, measuring sizes in the embedder's own word pieces so no chunk is silently truncated by the model.

Any text chunks in linear time and bounded memory: the splitter sees at most ``WINDOW_CHARS`` at once (a longer
segment is cut at a paragraph break, else a line break, else a space), and a "sentence" longer than
``LONG_SENTENCE_CHARS`` (a one-line dump with no sentence boundary) reaches it already cut into pieces of at
most ``chunk_size`` characters, instead of being split word by word with one tokenizer call per word.
Text without such stretches, in segments up to ``WINDOW_CHARS``, is chunked exactly as by the plain splitter."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .text import LoadedDocument, Segment

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
SECTION_BUDGET = 24  # word pieces kept free for the section title prepended before embedding
MIN_SEGMENT_WORDS = 8  # smaller segments (a lone heading) join the next segment on the same page
WINDOW_CHARS = 128 * 1024  # the most text the splitter (and the tokenizer) is given at once
LONG_SENTENCE_CHARS = 4096  # a longer "sentence" has no real sentence boundary: cut it by characters
_NON_SPACE = re.compile(r"\S")


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
    """What the embedder and BM25 read for a chunk: the section title (its context), then the chunk itself.
    A title the chunk already starts with is not repeated; a bare number ("4.12") is not a title."""
    if section and any(ch.isalpha() for ch in section) and not text.lstrip().startswith(section):
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
        for first, last in windows(document.text, segment.start, segment.end, WINDOW_CHARS):
            body = document.text[first:last]
            if not body.strip():
                continue
            pieces = splitter.split_text(body)
            for piece, start in zip(pieces, place_pieces(body, pieces), strict=True):
                begin, end = first + start, first + start + len(piece)
                chunks.append(ChunkSpec(document.text[begin:end], segment.page, segment.section, begin, end))
    return chunks


def windows(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """``text[start:end]`` as consecutive spans of at most ``limit`` characters, each cut after the last
    paragraph break, else line break, else whitespace in its second half (else exactly at ``limit``)."""
    spans: list[tuple[int, int]] = []
    while end - start > limit:
        cut = _cut_point(text, start + limit // 2, start + limit, ("\n\n", "\n", " ", "\t"))
        spans.append((start, cut))
        start = cut
    spans.append((start, end))
    return spans


def _cut_point(text: str, low: int, high: int, separators: tuple[str, ...]) -> int:
    """The end of the last ``separators[i]`` (first one found wins) within ``text[low:high]``, else ``high``."""
    for separator in separators:
        found = text.rfind(separator, low, high)
        if found >= 0:
            return found + len(separator)
    return high


def hard_cut(sentence: str, size: int) -> list[str]:
    """``sentence`` as consecutive pieces of at most ``size`` characters, cut after whitespace where there is
    some in a piece's second half; the pieces join back to ``sentence`` exactly."""
    pieces, start = [], 0
    while len(sentence) - start > size:
        cut = _cut_point(sentence, start + size // 2, start + size, (" ", "\n", "\t"))
        pieces.append(sentence[start:cut])
        start = cut
    pieces.append(sentence[start:])
    return pieces


def sentence_splitter(piece_chars: int) -> Callable[[str], list[str]]:
    """llama-index's own sentence split (nltk punkt), with sentences over ``LONG_SENTENCE_CHARS`` cut into
    pieces of ``piece_chars`` characters."""
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    sentences = split_by_sentence_tokenizer()

    def split(text: str) -> list[str]:
        result: list[str] = []
        for sentence in sentences(text):
            if len(sentence) > LONG_SENTENCE_CHARS:
                result.extend(hard_cut(sentence, piece_chars))
            else:
                result.append(sentence)
        return result

    return split


def place_pieces(body: str, pieces: list[str]) -> list[int]:
    """Start offsets of the splitter's pieces in ``body``.

    A short piece can occur several times (``"0"``, a repeated line), so each piece's place is chosen so that
    the pieces, in order, cover all of the text: each starts after the previous one, reaches past the text
    covered so far, and leaves only whitespace uncovered. A small depth-first search finds such a placement
    (later occurrences tried first); if none exists (the splitter changed the text) pieces are located
    greedily."""
    placed = _align(body, pieces)
    if placed is not None:
        return placed
    starts, cursor, reached = [], 0, 0
    for piece in pieces:
        start = _locate(body, piece, cursor, reached)
        cursor, reached = start + 1, max(reached, start + len(piece))
        starts.append(start)
    return starts


def _align(body: str, pieces: list[str]) -> list[int] | None:
    failed: set[tuple[int, int, int]] = set()
    stack: list[tuple[int, int, int, list[int]]] = [(0, -1, 0, [])]  # piece index, previous start, reached
    while stack:
        index, previous, reached, starts = stack.pop()
        if index == len(pieces):
            if not body[reached:].strip():
                return starts
            continue
        if (index, previous, reached) in failed:
            continue
        failed.add((index, previous, reached))  # reaching it again means it led nowhere the first time
        piece = pieces[index]
        # a start past the first non-space after ``reached`` would lose text, so no search looks further
        text_after = _NON_SPACE.search(body, reached)
        limit = (text_after.start() if text_after else len(body)) + len(piece)
        for start in _occurrences(body, piece, previous + 1, limit):  # ascending: the latest pops first
            if start > reached and body[reached:start].strip():
                break  # text between the covered part and this start would be lost
            if start + len(piece) > reached or (not piece.strip()):
                stack.append((index + 1, start, max(reached, start + len(piece)), [*starts, start]))
    return None


def _occurrences(body: str, piece: str, start: int, end: int) -> Iterator[int]:
    found = body.find(piece, start, end)
    while found >= 0:
        yield found
        found = body.find(piece, found + 1, end)


def make_splitter(chunk_size: int, chunk_overlap: int, tokenizer: Callable[[str], list[Any]] | None) -> Any:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.node_parser import SentenceSplitter

    overlap = max(0, min(chunk_overlap, chunk_size // 2))
    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        tokenizer=tokenizer,
        paragraph_separator="\n\n",
        chunking_tokenizer_fn=sentence_splitter(chunk_size),  # a word piece spans at least one character
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
