"""Real PDF files for tests, written with pypdf (text pages, outline, encryption) and Pillow (an embedded image)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _text_stream(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 770 Td"]
    for line in lines:
        ops.append(f"({_escape(line)}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def make_text_pdf(
    path: Path,
    pages: list[list[str]],
    *,
    outline: list[tuple[str, int]] = (),  # type: ignore[assignment]
    image: Image.Image | None = None,
    image_page: int = 0,
    user_password: str | None = None,
    owner_password: str | None = None,
    title: str | None = None,
) -> Path:
    """A PDF whose pages show the given lines in Helvetica; optional outline, image and encryption."""
    writer = PdfWriter()
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    })
    font_ref = writer._add_object(font)
    for lines in pages:
        page = writer.add_blank_page(width=612, height=792)
        stream = DecodedStreamObject()
        stream.set_data(_text_stream(lines))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref}),
            NameObject("/ProcSet"): ArrayObject([NameObject("/PDF"), NameObject("/Text")]),
        })
    if image is not None:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PDF")
        picture = PdfReader(io.BytesIO(buffer.getvalue())).pages[0]
        writer.pages[image_page].merge_page(picture)
    for heading, page_number in outline:
        writer.add_outline_item(heading, page_number)
    if title:
        writer.add_metadata({"/Title": title})
    if user_password is not None or owner_password is not None:
        writer.encrypt(user_password=user_password or "", owner_password=owner_password, algorithm="RC4-128")
    with open(path, "wb") as handle:
        writer.write(handle)
    return path
