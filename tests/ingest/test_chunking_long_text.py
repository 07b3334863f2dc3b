"""Chunking a huge line without sentence boundaries (issue 17): linear work, bounded input to the splitter,
exact slices that cover the text, and normal text chunked exactly as by the plain SentenceSplitter."""

from __future__ import annotations

import random
from typing import Any

import pytest

from mmrag.ingest.documents.chunking import (
    LONG_SENTENCE_CHARS,
    WINDOW_CHARS,
    chunk_document,
    hard_cut,
    windows,
)
from mmrag.ingest.documents.text import LoadedDocument, Segment

WORDS = "router reset button cable power light blinks seconds hold press".split()


def _one_line(size: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(size // 5 + 1))[:size]


def _document(text: str) -> LoadedDocument:
    return LoadedDocument(text=text, title=None, pages=None, segments=[Segment(0, len(text), None, None)])


class CountingTokenizer:
    """The real MiniLM tokenizer, counting its calls and the longest text it was given."""

    def __init__(self, tokenize: Any) -> None:
        self.tokenize = tokenize
        self.calls = 0
        self.longest = 0

    def __call__(self, text: str) -> list[int]:
        self.calls += 1
        self.longest = max(self.longest, len(text))
        return self.tokenize(text)


def _assert_exact_cover(text: str, chunks: list[Any]) -> None:
    covered_to = 0
    for chunk in chunks:
        assert chunk.text == text[chunk.char_start : chunk.char_end] and chunk.text.strip() == chunk.text
        assert not text[covered_to : chunk.char_start].strip(), f"text lost before offset {chunk.char_start}"
        covered_to = max(covered_to, chunk.char_end)
    assert not text[covered_to:].strip()


def test_a_long_line_costs_a_few_tokenizer_calls_per_chunk(text_embedder: Any) -> None:
    """Before: one tokenizer call per word (~40,000 here) and the whole text tokenized at once."""
    text = _one_line(200 * 1024)
    tokenizer = CountingTokenizer(text_embedder.tokenize)
    chunks = chunk_document(_document(text), 200, 30, tokenizer)
    _assert_exact_cover(text, chunks)
    assert all(len(text_embedder.tokenize(c.text)) <= 200 for c in chunks)
    assert sum(len(text_embedder.tokenize(c.text)) for c in chunks) >= 0.7 * 200 * len(chunks), "chunks full"
    assert tokenizer.calls < len(chunks) * 8, f"{tokenizer.calls} tokenizer calls for {len(chunks)} chunks"
    assert tokenizer.longest <= WINDOW_CHARS


def test_text_without_any_space_is_cut_and_kept_whole(text_embedder: Any) -> None:
    text = "x7" * (LONG_SENTENCE_CHARS * 3)
    chunks = chunk_document(_document(text), 64, 8, text_embedder.tokenize)
    _assert_exact_cover(text, chunks)
    assert all(len(text_embedder.tokenize(c.text)) <= 64 for c in chunks)


def test_normal_text_is_chunked_as_by_the_plain_sentence_splitter(text_embedder: Any) -> None:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.node_parser import SentenceSplitter

    rng = random.Random(1)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 40))).capitalize() + "."
                 for _ in range(800)]
    text = "\n\n".join(" ".join(sentences[i : i + 7]) for i in range(0, len(sentences), 7))
    assert len(text) < WINDOW_CHARS
    plain = SentenceSplitter(chunk_size=120, chunk_overlap=20, tokenizer=text_embedder.tokenize,
                             paragraph_separator="\n\n", callback_manager=CallbackManager([]))
    assert [c.text for c in chunk_document(_document(text), 120, 20, text_embedder.tokenize)] == \
        plain.split_text(text)


@pytest.mark.parametrize("text", [_one_line(5000), "a" * 5000, "word\n\n" * 900, "x y\n" * 1300])
def test_windows_and_hard_cuts_join_back_exactly(text: str) -> None:
    spans = windows(text, 0, len(text), 1024)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert all(0 < end - start <= 1024 for start, end in spans)
    pieces = hard_cut(text, 100)
    assert "".join(pieces) == text and all(0 < len(p) <= 100 for p in pieces)


def test_windows_cut_at_the_strongest_break_available() -> None:
    text = "a b\nc d\n\ne f g h i j"
    assert windows(text, 0, len(text), 12) == [(0, 9), (9, len(text))]  # after the paragraph break
    assert windows("ab c\nd e f g", 0, 12, 8) == [(0, 5), (5, 12)]  # after the line break
    assert windows("aaaa bbbb cccc", 0, 14, 8) == [(0, 5), (5, 10), (10, 14)]  # after a space
    assert windows("a" * 20, 0, 20, 8) == [(0, 8), (8, 16), (16, 20)]  # hard, when there is no break
    assert hard_cut("ab cd ef gh", 5) == ["ab ", "cd ", "ef gh"]
