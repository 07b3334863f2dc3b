"""Scanned PDFs: pages without a text layer are rendered, read by OCR, and become passages with page numbers;
answers cite the page and return its image."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from mmrag.errors import InputError
from mmrag.ingest.documents.loaders import load_document
from mmrag.ingest.ocr import OcrStep

from .conftest import font

PAGE_ONE = ("Installing packages", "Use the command install packages", "to add a package from the archive.")
PAGE_TWO = ("Plotting two axes", "Call the function twin axes", "to draw a second vertical axis.")


def scanned_pdf(path: Path) -> Path:
    """A two-page PDF made only of page images (what a scanner produces)."""
    pages = []
    for lines in (PAGE_ONE, PAGE_TWO):
        page = Image.new("RGB", (900, 600), (250, 250, 245))
        draw = ImageDraw.Draw(page)
        for number, line in enumerate(lines):
            draw.text((60, 80 + 110 * number), line, font=font(size=44 if number == 0 else 34), fill=(15, 15, 15))
        pages.append(page)
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=100)
    return path


@pytest.fixture
def page_reader(ocr_engine) -> OcrStep:
    step = OcrStep("on", "rapidocr")
    step._engine = ocr_engine  # the session's engine: weights load once
    return step


def test_scanned_pages_are_read_with_page_numbers_and_page_images(tmp_path: Path, page_reader: OcrStep) -> None:
    document = load_document(scanned_pdf(tmp_path / "scan.pdf"), page_reader)
    first = document.text[document.segments[0].start : document.segments[0].end].lower()
    second = document.text[document.segments[1].start : document.segments[1].end].lower()
    assert [s.page for s in document.segments] == [1, 2]
    assert "install packages" in first and "archive" in first
    assert "twin axes" in second and "vertical axis" in second
    assert [image.name for image in document.images] == ["page1-scan.jpg", "page2-scan.jpg"]
    assert Image.open(__import__("io").BytesIO(document.images[1].data)).format == "JPEG"


def test_scanned_pdf_without_ocr_says_why_it_has_no_text(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"scan.pdf: no extractable text \(a scanned PDF\? it was loaded without"):
        load_document(scanned_pdf(tmp_path / "scan.pdf"))


def test_answer_cites_the_scanned_page_and_returns_its_image(make_library, text_embedder, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    scanned_pdf(docs / "manual.pdf")
    lib = make_library(text_embedder=text_embedder, ingest={"ocr": "auto"})
    report = lib.ingest([docs])
    assert report.documents == 1 and not report.skipped
    answer = lib.ask("How do I draw a second vertical axis?", k=1)
    assert answer.citations and answer.citations[0].page == 2
    assert any(Path(image.path).name.endswith("page2-scan.jpg") for image in answer.images)
