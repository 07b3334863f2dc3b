"""Loaders: text extraction, encodings, sections/pages, images, and the files that must be refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from doc_pdfs import make_text_pdf
from PIL import Image

from mmrag.errors import InputError
from mmrag.ingest.documents.loaders import decode_text, load_document


def _sections(document) -> list[str | None]:  # type: ignore[no-untyped-def]
    return [segment.section for segment in document.segments]


# -- plain text and encodings -------------------------------------------------------------------------------


def test_utf8_text_keeps_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph,\nsecond line.\n\n\n\nSecond paragraph.   \n", encoding="utf-8")
    document = load_document(path)
    assert document.text == "First paragraph,\nsecond line.\n\nSecond paragraph."
    assert document.pages is None and document.title is None
    assert [(s.start, s.end) for s in document.segments] == [(0, len(document.text))]


def test_latin1_text_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    text = "Le café était très crème. À bientôt, garçon! Ça coûte déjà trop cher pour nous."
    path.write_bytes(text.encode("latin-1"))
    assert load_document(path).text == text


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Grüße aus Köln\n".encode("utf-16"))
    assert load_document(path).text == "Grüße aus Köln"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\t\n ", "empty"),
        ("binary.txt", bytes(range(256)) * 64, "binary"),
        ("zeros.md", b"# Title\x00\x00\x00\x00 text", "binary"),
        ("empty.html", b"<html><body><script>var a = 1;</script></body></html>", "no text"),
        ("fake.pdf", b"this is not a pdf at all", "not a PDF"),
    ],
)
def test_unusable_files_raise_input_error(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError, match=reason):
        load_document(path)


def test_decode_text_prefers_utf8_and_rejects_nul() -> None:
    assert decode_text("naïve".encode(), "x") == "naïve"
    with pytest.raises(InputError, match="binary"):
        decode_text(b"\xff\x00\xfe\x00\x80" * 100, "x")


def test_unsupported_extension_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match=r"'\.xlsx'.*\.pdf"):
        load_document(path)


# -- Markdown -----------------------------------------------------------------------------------------------


def test_markdown_sections_and_local_images(tmp_path: Path, png_bytes: bytes) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "diagram.png").write_bytes(png_bytes)
    (tmp_path / "notes.txt").write_text("not an image")
    source = (
        "# Device manual\n\nIntro text before any section.\n\n"
        "## Resetting\n\nHold the button for ten seconds.\n\n![diagram](img/diagram.png)\n\n"
        "```\n# not a heading inside code\n```\n\n"
        "Setext heading\n--------------\n\nText under it. ![remote](https://example.com/x.png) ![bad](notes.txt)\n"
    )
    path = tmp_path / "manual.md"
    path.write_text(source, encoding="utf-8")
    document = load_document(path)
    assert document.title == "Device manual"
    assert _sections(document) == ["Device manual", "Resetting", "Setext heading"]
    reset = document.segments[1]
    assert document.text[reset.start : reset.end].startswith("## Resetting\n\nHold the button")
    assert "# not a heading inside code" in document.text[reset.start : reset.end]
    assert [(image.name, image.data) for image in document.images] == [("img/diagram.png", png_bytes)]
    assert reset.start <= document.images[0].offset < reset.end


# -- HTML ---------------------------------------------------------------------------------------------------


def test_html_headings_start_sections_and_navigation_is_dropped(tmp_path: Path, png_bytes: bytes) -> None:
    (tmp_path / "photo.png").write_bytes(png_bytes)
    html = """<!DOCTYPE html><html><head><title>Router Guide</title><style>p {color: red}</style></head>
    <body><nav><a href="#a">Resetting</a> <a href="#b">Wiring</a></nav>
    <div class="header"><p>Next: <a rel="next" accesskey="n" href="#b">Wiring</a></p></div>
    <h1>Router   Guide</h1><p>Welcome to the <b>router</b> guide.</p>
    <h2 id="a">Resetting the device</h2><p>Press and hold <code>RESET</code> for 10&nbsp;seconds.</p>
    <img src="photo.png" alt="x"><img src="http://example.com/remote.png"><img src="missing.png">
    <pre>line 1
      indented line 2</pre>
    <!-- a comment that must not appear -->
    <h2>Wiring</h2><ul><li>red to A</li><li>black to B</li></ul><script>alert('x')</script>
    </body></html>"""
    path = tmp_path / "guide.html"
    path.write_text(html, encoding="utf-8")
    document = load_document(path)
    assert document.title == "Router Guide"
    assert _sections(document) == ["Router Guide", "Resetting the device", "Wiring"]
    text = document.text
    assert "Press and hold RESET for 10\xa0seconds." in text or "Press and hold RESET for 10 seconds." in text
    assert "line 1\n      indented line 2" in text
    assert "red to A\nblack to B" in text
    for absent in ("color: red", "alert", "comment", "Next:"):
        assert absent not in text
    assert text.count("Wiring") == 1  # the nav links are gone, the heading stays
    assert [image.data for image in document.images] == [png_bytes]
    resetting = document.segments[1]
    assert resetting.start <= document.images[0].offset <= resetting.end


def test_html_in_latin1_declared_by_meta(tmp_path: Path) -> None:
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Crème brûlée à la carte</p></body></html>'
    path = tmp_path / "menu.htm"
    path.write_bytes(html.encode("latin-1"))
    assert load_document(path).text == "Crème brûlée à la carte"


def test_deeply_nested_html_does_not_recurse(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 3000 + "deep text" + "</div>" * 3000, encoding="utf-8")
    assert load_document(path).text == "deep text"


# -- PDF ----------------------------------------------------------------------------------------------------


def test_pdf_pages_outline_sections_and_title(tmp_path: Path) -> None:
    path = make_text_pdf(
        tmp_path / "manual.pdf",
        [["Preface words on page one.", "1 Setup", "Plug the cable in."], ["More setup text.", "2 Reset",
         "Hold the button."]],
        outline=[("1 Setup", 0), ("2 Reset", 1)],
        title="Device Manual",
    )
    document = load_document(path)
    assert document.pages == 2 and document.title == "Device Manual"
    assert [(s.page, s.section) for s in document.segments] == [(1, None), (1, "1 Setup"), (2, "1 Setup"),
                                                                 (2, "2 Reset")]
    reset = document.segments[-1]
    assert document.text[reset.start : reset.end].startswith("2 Reset\nHold the button.")


def test_pdf_embedded_image_is_extracted(tmp_path: Path) -> None:
    picture = Image.fromarray((np.random.default_rng(1).random((60, 90, 3)) * 255).astype("uint8"))
    path = make_text_pdf(tmp_path / "figure.pdf", [["Page one text."], ["Figure 1 shows the board."]],
                         image=picture, image_page=1)
    document = load_document(path)
    assert len(document.images) == 1
    with Image.open(io.BytesIO(document.images[0].data)) as extracted:
        assert extracted.size == (90, 60)
    page_two = document.segments[-1]
    assert document.images[0].offset <= page_two.end and document.images[0].name.startswith("page2-")


def test_encrypted_pdf_with_password_is_refused(tmp_path: Path) -> None:
    path = make_text_pdf(tmp_path / "secret.pdf", [["classified"]], user_password="s3cret")
    with pytest.raises(InputError, match="password"):
        load_document(path)


def test_pdf_with_owner_password_only_is_read(tmp_path: Path) -> None:
    path = make_text_pdf(tmp_path / "locked.pdf", [["Readable by anyone."]], owner_password="owner")
    assert load_document(path).text == "Readable by anyone."


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.97])
def test_truncated_pdf_is_refused(tmp_path: Path, keep: float) -> None:
    whole = make_text_pdf(tmp_path / "whole.pdf", [[f"Line {i} of page {p}." for i in range(30)] for p in range(4)])
    data = whole.read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError, match="malformed|no extractable"):
        load_document(path)


def test_image_only_pdf_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    Image.new("RGB", (200, 100), "white").save(path, format="PDF")
    with pytest.raises(InputError, match="no extractable text"):
        load_document(path)


# -- the R manuals (Debian r-doc-html / r-doc-pdf) ------------------------------------------------------------


def test_r_faq_html_sections(r_manuals: Path) -> None:
    document = load_document(r_manuals / "R-FAQ.html")
    sections = _sections(document)
    assert document.title == "R FAQ"
    assert "7.10 How do I convert factors to numeric?" in sections
    assert "2.12 Why is R named R?" in sections
    assert "Table of Contents" not in sections  # the TOC is dropped
    factors = document.segments[sections.index("7.10 How do I convert factors to numeric?")]
    assert "as.numeric(as.character(f))" in document.text[factors.start : factors.end]


def test_r_faq_pdf_pages_and_outline(r_manuals: Path) -> None:
    document = load_document(r_manuals / "R-FAQ.pdf")
    assert document.pages is not None and document.pages > 40
    by_section = {s.section: s for s in document.segments}
    factors = by_section["How do I convert factors to numeric?"]
    assert factors.page is not None and factors.page > 30
    assert "as.numeric(as.character(f))" in document.text[factors.start : factors.end]
