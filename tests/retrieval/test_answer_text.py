"""Answer and snippet text as a reader sees it (plain text, whole sentences, citations numbered by first use);
query-vector arithmetic without float32 overflow."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from mmrag.retrieval.answer import Citation, number_by_first_use
from mmrag.retrieval.answerers.extractive import ExtractiveAnswerer, candidate_sentences
from mmrag.retrieval.hits import Hit
from mmrag.retrieval.plain_text import blocks, plain_text
from mmrag.retrieval.search import combine

ROUTER_MD = """# Resetting the router

To reset the **router**, hold the [reset button](https://example.com/reset) on its back
for ten seconds until the lights blink.

- Keep the `power cable` plugged in while you hold it.
"""
WRAPPED_PDF = """7.10 How do I reset the device
Unplug the device and wait thirty seconds, then hold the small button on the underside of the
case while you plug it back in. The device starts in recovery mode and clears every infor-
mation stored on it.
"""


def passage(number: int, path: str, text: str, section: str | None = None) -> Hit:
    return Hit(id=number, path=path, score=0.9, kind="document", chunk_id=number, text=text, section=section)


def test_markdown_is_plain_text_and_headings_are_not_answers() -> None:
    found = blocks(ROUTER_MD, markdown=True)
    assert [b.kind for b in found] == ["heading", "paragraph", "paragraph"]
    assert found[1].text == ("To reset the router, hold the reset button on its back for ten seconds until the "
                             "lights blink.")
    sentences = [s for _, s in candidate_sentences([passage(1, "docs/router.md", ROUTER_MD, "Resetting the router")])]
    assert not any("#" in s or "**" in s or "](" in s or "`" in s for s in sentences), sentences
    assert "Resetting the router" not in sentences


def test_sentences_stay_whole_across_line_breaks() -> None:
    sentences = [s for _, s in candidate_sentences([passage(1, "manual.pdf", WRAPPED_PDF)])]
    assert sentences[0] == ("Unplug the device and wait thirty seconds, then hold the small button on the underside "
                            "of the case while you plug it back in.")
    assert sentences[1].endswith("clears every information stored on it.")
    assert "7.10 How do I reset the device" not in " ".join(sentences)  # the heading line is not glued on


def test_citation_text_is_plain() -> None:
    citation = Citation.from_hit(1, passage(4, "docs/router.md", ROUTER_MD))
    assert "**" not in citation.text and "https://" not in citation.text and "# " not in citation.text
    assert "hold the reset button on its back for ten seconds" in citation.text
    assert plain_text("a *b* c", markdown=False) == "a *b* c"  # other text is left as it is


def test_citations_are_numbered_by_first_use() -> None:
    passages = [passage(n, f"doc{n}.txt", f"text {n}") for n in range(1, 5)]
    text, citations = number_by_first_use("Best [3]. Next [1, 3]. Range [3-4]. Bad [9].", passages)
    assert text == "Best [1]. Next [2, 1]. Range [1, 3]. Bad."
    assert [(c.number, c.asset_id) for c in citations] == [(1, 3), (2, 1), (3, 4)]


def test_extractive_answer_is_plain_and_numbered_from_one(text_embedder: Any) -> None:
    passages = [
        passage(1, "notes.txt", "Lighthouses guide ships along the coast at night with rotating lamps."),
        passage(2, "docs/router.md", ROUTER_MD, "Resetting the router"),
    ]
    answer = ExtractiveAnswerer(text_embedder).answer("How do I reset the router?", passages)
    assert answer.text.startswith("To reset the router, hold the reset button on its back for ten seconds")
    assert "**" not in answer.text and "](" not in answer.text
    assert answer.text.endswith("[1]") and [c.number for c in answer.citations][0] == 1
    assert answer.citations[0].path == "docs/router.md"


def test_huge_weights_do_not_overflow() -> None:
    image, text = np.full(8, 1 / np.sqrt(8), dtype=np.float32), np.eye(8, dtype=np.float32)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = combine([(image, 1e300), (text, -1.0)])
        vector = combine([(np.full(8, 1e38, dtype=np.float64), 1.0)])
    assert np.allclose(huge, image, atol=1e-6) and np.isclose(np.linalg.norm(vector), 1.0)
    with pytest.raises(ValueError, match="weights cancel out"):
        combine([(image, 1.0), (image, -1.0)])


PDF_PAGES = {
    2: "To reset the device, first unplug the device from the wall socket and wait thirty seconds.",
    3: "To reset the device, then hold the reset button of the device while you plug it back in.",
    5: "To reset the device fully, wait until the device light blinks green after the reset.",
}


def test_answer_from_one_pdf_reads_in_page_order(text_embedder: Any) -> None:
    ranked = [5, 3, 2]  # retrieval order differs from the document's
    passages = [Hit(id=7, path="manual.pdf", score=0.9, kind="document", chunk_id=100 + page, page=page,
                    text=PDF_PAGES[page]) for page in ranked]
    answerer = ExtractiveAnswerer(text_embedder, max_sentences=3)
    answer = answerer.answer("How do I reset the device?", passages)
    pages = [c.page for c in answer.citations]
    assert len(pages) >= 2 and pages == sorted(pages), answer.text
    assert [c.number for c in answer.citations] == list(range(1, len(pages) + 1))
    places = [answer.text.index(PDF_PAGES[page]) for page in pages]
    assert places == sorted(places) and answer.text.index("[1]") < answer.text.index("[2]")


def test_hash_headings_in_plain_text_are_headings() -> None:
    text = "## Resetting the device\nhold the button for ten seconds until the light blinks twice.\n"
    found = blocks(text, markdown=False)
    assert [(b.kind, b.text) for b in found] == [
        ("heading", "Resetting the device"),
        ("paragraph", "hold the button for ten seconds until the light blinks twice.")]
    sentences = [s for _, s in candidate_sentences([passage(1, "notes.txt", text)])]
    assert sentences and not any("#" in s or "Resetting the device" in s for s in sentences)
