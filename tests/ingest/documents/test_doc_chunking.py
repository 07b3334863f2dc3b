"""Chunking: exact offsets, sizes in the embedder's word pieces, pages/sections carried, small segments merged."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mmrag.ingest.documents.chunking import (
    chunk_document,
    effective_chunk_size,
    embedding_text,
    merge_small_segments,
)
from mmrag.ingest.documents.text import LoadedDocument, Segment, TextBuilder


def _document(paragraphs: list[tuple[str | None, int | None, str]]) -> LoadedDocument:
    builder = TextBuilder()
    for section, page, text in paragraphs:
        builder.start_segment(page=page, section=section)
        builder.write_verbatim(text)
    return builder.build(title=None, pages=None)


def _words(n: int, seed: int = 0) -> str:
    vocabulary = ["router", "reset", "button", "cable", "power", "light", "blinks", "seconds", "hold", "press"]
    sentences = []
    for i in range(n):
        words = [vocabulary[(seed + i * 7 + j * 3) % len(vocabulary)] for j in range(6 + i % 9)]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def test_offsets_pages_and_sections(text_embedder: Any) -> None:
    document = _document([("Setup", 1, _words(60)), ("Reset", 2, _words(80, 5)),
                          ("Reset", 3, "Short end words here now ok.")])
    chunks = chunk_document(document, 40, 8, text_embedder.tokenize)
    assert len(chunks) > 6
    for chunk in chunks:
        assert chunk.text == document.text[chunk.char_start : chunk.char_end]
        assert chunk.text == chunk.text.strip() and chunk.text
        assert len(text_embedder.tokenize(chunk.text)) <= 40
    assert {(c.page, c.section) for c in chunks} == {(1, "Setup"), (2, "Reset"), (3, "Reset")}
    starts = [c.char_start for c in chunks]
    assert starts == sorted(starts)


def test_overlap_repeats_text_between_neighbours(text_embedder: Any) -> None:
    document = _document([(None, None, _words(120))])
    chunks = chunk_document(document, 50, 20, text_embedder.tokenize)
    overlapping = sum(1 for a, b in zip(chunks, chunks[1:], strict=False) if b.char_start < a.char_end)
    assert overlapping >= len(chunks) // 2
    without = chunk_document(document, 50, 0, text_embedder.tokenize)
    assert all(b.char_start >= a.char_end for a, b in zip(without, without[1:], strict=False))


def test_chunks_never_cross_pages(text_embedder: Any) -> None:
    document = _document([(None, page, _words(15, page)) for page in range(1, 6)])
    for chunk in chunk_document(document, 200, 30, text_embedder.tokenize):
        segment = next(s for s in document.segments if s.page == chunk.page)
        assert segment.start <= chunk.char_start and chunk.char_end <= segment.end


def test_small_heading_segment_joins_the_next() -> None:
    text = "2 R Basics\n\n2.1 What is R?\n\nR is a system for statistical computation and graphics, with a language."
    segments = [Segment(0, 12, None, "2 R Basics"), Segment(12, len(text), None, "2.1 What is R?")]
    assert merge_small_segments(text, segments) == [Segment(0, len(text), None, "2.1 What is R?")]
    other_page = [Segment(0, 12, 1, "2 R Basics"), Segment(12, len(text), 2, "2.1 What is R?")]
    assert merge_small_segments(text, other_page) == other_page


def test_effective_chunk_size_respects_max_seq_length() -> None:
    assert effective_chunk_size(200, 256) == 200
    assert effective_chunk_size(512, 256) == 256 - 2 - 24
    assert effective_chunk_size(512, 128) == 128 - 2 - 24
    assert effective_chunk_size(300, None) == 300


def test_embedding_text_prepends_section_once() -> None:
    assert embedding_text("7.10 Factors", "Use as.numeric.") == "7.10 Factors\nUse as.numeric."
    assert embedding_text("7.10 Factors", "7.10 Factors\n\nUse as.numeric.") == "7.10 Factors\n\nUse as.numeric."
    assert embedding_text(None, "text") == "text"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(min_size=1, max_size=12).filter(str.strip)),
            st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=600),
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=16, max_value=64),
)
@example(parts=[(None, "0"), (None, "\x81𑑀"), (None, "0:𐀀"), (None, "0")], size=16)  # a repeated short piece
def test_any_text_chunks_are_exact_slices(parts: list[tuple[str | None, str]], size: int) -> None:
    document = _document([(section, None, text) for section, text in parts])
    chunks = chunk_document(document, size, size // 4, None)
    for chunk in chunks:
        assert chunk.text == document.text[chunk.char_start : chunk.char_end]
        assert 0 <= chunk.char_start < chunk.char_end <= len(document.text)
    covered = [False] * len(document.text)
    for chunk in chunks:
        covered[chunk.char_start : chunk.char_end] = [True] * (chunk.char_end - chunk.char_start)
    lost = [i for i, ch in enumerate(document.text) if not ch.isspace() and not covered[i]]
    assert not lost, f"text not in any chunk: {document.text[lost[0]:lost[0] + 20]!r}"
