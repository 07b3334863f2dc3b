"""Parent-section retrieval: one hit per section, the section's text returned as the hit's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmrag.retrieval.sections import ChunkPlace, _join, collapse_to_sections

SENTENCES = [
    "The pump needs water in its housing before the first start.",
    "Open the filler cap on the top of the housing and pour in clean water.",
    "Close the cap firmly so that no air is drawn in through the thread.",
    "Switch the pump on and wait until water flows without bubbles.",
    "If the pump runs dry for more than a minute the seal can be damaged.",
]


def test_collapse_keeps_the_best_chunk_of_each_section_in_order() -> None:
    places = {1: ChunkPlace(7, "Priming", 0, 10), 2: ChunkPlace(7, "Storage", 10, 20),
              3: ChunkPlace(7, "Priming", 20, 30), 4: ChunkPlace(8, "Priming", 0, 10),
              5: ChunkPlace(7, None, 30, 40), 6: ChunkPlace(7, None, 40, 50)}
    ordered = [(3, 0.9), (1, 0.8), (2, 0.7), (4, 0.6), (5, 0.5), (6, 0.4), (9, 0.3)]
    assert collapse_to_sections(ordered, places) == [(3, 0.9), (2, 0.7), (4, 0.6), (5, 0.5), (6, 0.4), (9, 0.3)]


def test_join_drops_overlaps_and_keeps_gaps_apart() -> None:
    text = "alpha beta gamma delta epsilon"
    pieces = [(0, 16, text[0:16]), (11, 30, text[11:30]), (40, 45, "omega")]
    assert _join(pieces) == (0, "alpha beta gamma delta epsilon\n\nomega")


def _library(root: Path, tiny_clip: Any, text_embedder: Any, **overrides: Any) -> Any:
    from mmrag import Library

    return Library(root, clip_model="tiny-test", device="cpu", clip=tiny_clip, text_embedder=text_embedder,
                   **overrides)


@pytest.fixture(scope="module")
def long_section_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sections-docs")
    priming = " ".join(SENTENCES[i % len(SENTENCES)] for i in range(40))  # several chunks of one section
    (folder / "pump.md").write_text(f"# Pump\n\n## Priming\n\n{priming}\n\n## Storage\n\n"
                                    "Drain all water and keep the pump indoors when frost is expected.\n",
                                    encoding="utf-8")
    return folder


def test_search_returns_one_hit_per_section_with_the_section_as_context(
    long_section_docs: Path, tmp_path: Path, tiny_clip: Any, text_embedder: Any
) -> None:
    lib = _library(tmp_path / "lib", tiny_clip, text_embedder)
    try:
        lib.ingest([long_section_docs])
        hits = lib.search_text("How do I fill the pump with water before starting it?", k=5, kind="text")
        assert hits[0].section == "Priming"
        assert [h.section for h in hits].count("Priming") == 1
        context = hits[0].extra["context"]
        assert len(context) > len(hits[0].text or "") and hits[0].text in context
        assert context.count(SENTENCES[0]) >= 2  # the neighbouring chunks of the section, joined
    finally:
        lib.close()


def test_sections_off_returns_chunks(long_section_docs: Path, tmp_path: Path, tiny_clip: Any,
                                     text_embedder: Any) -> None:
    lib = _library(tmp_path / "lib", tiny_clip, text_embedder, rag={"sections": False})
    try:
        lib.ingest([long_section_docs])
        hits = lib.search_text("How do I fill the pump with water before starting it?", k=5, kind="text")
        assert [h.section for h in hits].count("Priming") >= 2
        assert all("context" not in h.extra for h in hits)
    finally:
        lib.close()
