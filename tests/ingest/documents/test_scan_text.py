"""What a scanned page's OCR lines become: text a reader and BM25 can use, and sections found from the outline
even where OCR ran the title's words together (pure functions; the OCR itself is tested in tests/ocr)."""

from __future__ import annotations

from mmrag.ingest.documents.pdf_loader import _find_title
from mmrag.ingest.documents.pdf_scan import paragraphs
from mmrag.models.ocr_base import OcrResult, TextBox


def _line(text: str, left: int, top: int, right: int, bottom: int) -> TextBox:
    return TextBox(text, 0.95, ((left, top), (right, top), (right, bottom), (left, bottom)))


def test_boxes_on_one_row_hyphenated_words_and_paragraph_gaps() -> None:
    lines = (
        _line("2.6", 100, 100, 140, 130),
        _line("Are there", 150, 101, 300, 130),
        _line("Unix-like binaries for R?", 310, 102, 700, 131),
        _line("Use apt-get to install the rec-", 100, 140, 800, 170),
        _line("ommended packages.", 100, 180, 500, 210),
        _line("A new paragraph", 100, 300, 400, 330),
    )
    text = paragraphs(OcrResult(lines, 1000, 1400, "rapidocr"))
    assert text == ("2.6 Are there Unix-like binaries for R?\nUse apt-get to install the recommended packages."
                    "\n\nA new paragraph")


def test_a_hyphen_before_a_capital_or_a_digit_is_kept() -> None:
    lines = (_line("Tom Callaway, Red-", 100, 100, 500, 130), _line("Hat and R-", 100, 140, 400, 170),
             _line("4.3 builds", 100, 180, 400, 210))
    assert paragraphs(OcrResult(lines, 1000, 1400, "rapidocr")) == "Tom Callaway, Red-\nHat and R-\n4.3 builds"


def test_outline_title_is_found_where_ocr_ran_its_words_together() -> None:
    page = "Chapter 2: R Basics\nof R are available.\n2.6Arethere Unix-like binariesforR?\nBinary distributions"
    assert _find_title(page, "Are there Unix-like binaries for R?", 0) == page.index("2.6Are")
    assert _find_title(page, "What documentation exists for R?", 0) is None


def test_title_match_folds_full_width_brackets_and_typographic_quotes() -> None:
    page = "intro\n7.1 Why does “R CMD check”fail（sometimes)?\nbody"
    assert _find_title(page, 'Why does "R CMD check" fail (sometimes)?', 0) == page.index("7.1")
