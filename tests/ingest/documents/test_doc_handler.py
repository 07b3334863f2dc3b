"""process_document: the contract the ingest pipeline relies on."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from doc_pdfs import make_text_pdf
from PIL import Image

from mmrag.errors import InputError
from mmrag.ingest.documents.handler import DOCUMENT_EXTENSIONS, chunk_for, is_document, process_document
from mmrag.ingest.documents.loaders import load_document
from mmrag.settings import RagSettings


def test_extensions() -> None:
    assert DOCUMENT_EXTENSIONS == {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
    assert is_document(Path("a/B.PDF")) and not is_document(Path("photo.jpg"))


def test_html_document_with_image(tmp_path: Path, png_bytes: bytes, text_embedder: Any) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "front.png").write_bytes(png_bytes)
    body = " ".join(f"Sentence number {i} about the front panel lights and what they mean." for i in range(40))
    html = (f"<html><head><title>Panel</title></head><body><h1>Panel</h1><p>{body}</p>"
            "<h2>Front view</h2><p>The picture shows the front.</p><img src='pics/front.png'>"
            f"<p>{body}</p></body></html>")
    path = tmp_path / "panel.html"
    path.write_text(html, encoding="utf-8")
    result = process_document(path, RagSettings(chunk_size=64, chunk_overlap=8), text_embedder)
    assert result.title == "Panel" and result.pages is None
    assert result.vectors.shape == (len(result.chunks), 384) and result.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    assert len(result.chunks) > 4
    assert result.text_length >= max(c.char_end for c in result.chunks)
    assert [image.data for image in result.images] == [png_bytes]
    holder = result.chunks[result.images[0].chunk_ordinal]
    assert holder.section == "Front view" and "The picture shows the front." in holder.text


def test_pdf_document_pages_and_image(tmp_path: Path, text_embedder: Any) -> None:
    picture = Image.fromarray((np.random.default_rng(2).random((40, 40, 3)) * 255).astype("uint8"))
    pages = [[f"Page {p} line {i}: the pump needs priming before use." for i in range(12)] for p in range(1, 4)]
    path = make_text_pdf(tmp_path / "pump.pdf", pages, image=picture, image_page=2, title="Pump")
    result = process_document(path, RagSettings(), text_embedder)
    assert result.pages == 3 and result.title == "Pump"
    assert {c.page for c in result.chunks} == {1, 2, 3}
    (image,) = result.images
    assert result.chunks[image.chunk_ordinal].page == 3
    assert Image.open(io.BytesIO(image.data)).size == (40, 40)


def test_vectors_match_the_question_they_answer(tmp_path: Path, text_embedder: Any) -> None:
    path = tmp_path / "faq.md"
    path.write_text(
        "# FAQ\n\n## Refunds\n\nYou can return any product within 30 days for a full refund of the price.\n\n"
        "## Shipping\n\nOrders ship from our warehouse within two business days by courier.\n",
        encoding="utf-8",
    )
    result = process_document(path, RagSettings(), text_embedder)
    query = text_embedder.embed_texts(["What is the refund policy?"], is_query=True)[0]
    best = result.chunks[int(np.argmax(result.vectors @ query))]
    assert best.section == "Refunds"


@pytest.mark.parametrize(("name", "data"), [("empty.md", b""), ("binary.txt", bytes(range(256)) * 16)])
def test_unusable_documents_raise_input_error(tmp_path: Path, name: str, data: bytes, text_embedder: Any) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError):
        process_document(path, RagSettings(), text_embedder)


def test_chunk_size_is_capped_by_the_model(tmp_path: Path, text_embedder: Any) -> None:
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"Word{i} appears in a long run of text." for i in range(300)), encoding="utf-8")
    chunks = chunk_for(load_document(path), RagSettings(chunk_size=2000, chunk_overlap=0), text_embedder)
    sizes = [len(text_embedder.tokenize(c.text)) for c in chunks]
    assert len(chunks) > 4 and max(sizes) <= text_embedder.max_seq_length - 2 - 24 < 2000
    assert min(sizes[:-1]) > 150  # filled up to the cap, not cut short


@pytest.mark.slow
def test_r_faq_pdf_end_to_end(r_manuals: Path, text_embedder: Any) -> None:
    result = process_document(r_manuals / "R-FAQ.pdf", RagSettings(), text_embedder)
    assert result.pages and result.pages > 40 and len(result.chunks) > 150
    sections = {c.section for c in result.chunks}
    assert "How do I convert factors to numeric?" in sections
