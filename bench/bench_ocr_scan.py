"""Scanned-PDF RAG: the R FAQ as a text PDF next to the same pages as a PDF of page images (a "scan").

The scan is built from Debian's R-FAQ.pdf (r-doc-pdf): every page rendered to a JPEG at ``--dpi`` with
pypdfium2 and written as an image-only PDF (Pillow), with the text PDF's outline (bookmarks) copied over,
as a scanning workflow that keeps the table of contents would. No text layer: mmrag renders each page and
reads it with RapidOCR (``ingest.ocr = "auto"``), and sections come from matching outline titles in the
OCR text, as for any PDF.

Both PDFs are ingested into their own library (tiny-test CLIP, all-MiniLM-L6-v2) and evaluated with the
R FAQ questions of bench/rag_eval (bench_rag.evaluate: section recall@5 and MRR@10 of dense, BM25 and
hybrid retrieval; bench_rag.answer_checks: the extractive answerer's first citation).

    python bench/bench_ocr_scan.py --work /tmp/rfaq-scan --json /tmp/rfaq-scan/result.json

``--pages 27-52`` keeps those pages only (the outline entries that point into them, renumbered) in both
PDFs and evaluates the questions with a gold section in them: a bounded run on a loaded machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_rag import answer_checks, chunk_sections, evaluate  # noqa: E402
from evalset import CORPORA, is_gold, load  # noqa: E402


def page_range(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first) - 1, int(last or first))


def build_subset(text_pdf: Path, out: Path, pages: range) -> Path:
    """``out``: the pages ``pages`` (0-based) of ``text_pdf`` with the outline entries that point into them."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(str(text_pdf))
    writer = PdfWriter()
    for index in pages:
        writer.add_page(reader.pages[index])
    _copy_outline(reader, writer, pages)
    with out.open("wb") as handle:
        writer.write(handle)
    return out


def build_scan(text_pdf: Path, out: Path, dpi: int) -> Path:
    """``out``: the pages of ``text_pdf`` as JPEG images at ``dpi`` in a PDF without text, outline kept."""
    import pypdfium2
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    document = pypdfium2.PdfDocument(str(text_pdf))
    pages = []
    for page in document:
        image = page.render(scale=dpi / 72.0).to_pil().convert("L")  # a grey-scale scan
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        pages.append(Image.open(io.BytesIO(buffer.getvalue())))
    document.close()
    images_only = out.with_suffix(".noOutline.pdf")
    pages[0].save(images_only, save_all=True, append_images=pages[1:], resolution=float(dpi))
    writer = PdfWriter(clone_from=str(images_only))
    reader = PdfReader(str(text_pdf))
    _copy_outline(reader, writer, range(len(reader.pages)))
    with out.open("wb") as handle:
        writer.write(handle)
    images_only.unlink()
    return out


def _copy_outline(reader: Any, writer: Any, pages: range) -> None:
    """Outline entries pointing into ``pages``, renumbered from 0 (children of a dropped entry move up)."""

    def visit(items: list[Any], parent: Any) -> None:
        last = parent
        for item in items:
            if isinstance(item, list):
                visit(item, last)
                continue
            page = reader.get_destination_page_number(item)
            if page in pages:
                last = writer.add_outline_item(title=item.title, page_number=page - pages.start, parent=parent)
            else:
                last = parent

    visit(reader.outline, None)


def questions_in(pdf: Path) -> tuple[list[Any], list[str]]:
    """The R FAQ questions with a gold section among the sections of ``pdf``'s text layer."""
    from mmrag.ingest.documents.loaders import load_document

    questions, unanswerable = load()
    sections = {segment.section for segment in load_document(pdf).segments}
    return [q for q in questions if any(is_gold(section, q) for section in sections)], unanswerable


def run(name: str, pdf: Path, work: Path, questions: tuple[list[Any], list[str]],
        answers: bool = True) -> dict[str, Any]:
    from mmrag import Library

    folder = work / f"docs-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "R-FAQ.pdf"
    if not target.exists():
        target.write_bytes(pdf.read_bytes())
    lib = Library(work / f"lib-{name}", clip_model="tiny-test", device="cpu", ingest={"ocr": "auto"})
    started = time.perf_counter()
    report = lib.ingest([folder])
    seconds = time.perf_counter() - started
    questions, unanswerable = questions
    result = evaluate(lib, questions)
    if answers:
        result["answers"] = answer_checks(lib, questions, unanswerable)
    sections = chunk_sections(lib)
    result.update(ingest_s=round(seconds, 1), chunks=len(sections),
                  chunks_with_section=sum(1 for s in sections.values() if s), ingest_report=str(report))
    lib.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="libraries and the scan go here (kept)")
    parser.add_argument("--dpi", type=int, default=200, help="resolution of the scanned pages")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-answers", action="store_true", help="retrieval only (skip the answerer checks)")
    parser.add_argument("--pages", type=page_range, default=None, help="a page range such as 27-52 (from 1)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    text = CORPORA["pdf"]
    if args.pages is not None:
        text = build_subset(text, args.work / "R-FAQ-pages.pdf", args.pages)
    scan = args.work / "R-FAQ-scan.pdf"
    if not scan.exists():
        build_scan(text, scan, args.dpi)
    questions = questions_in(text)
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"scan_dpi": args.dpi, "questions": len(questions[0]),
                               "pages": f"{args.pages.start + 1}-{args.pages.stop}" if args.pages else "all"}
    for name, pdf in (("text", text), ("scan", scan)):
        results[name] = run(name, pdf, args.work, questions, answers=not args.no_answers)
        print(json.dumps({name: results[name]}, ensure_ascii=False), file=sys.stderr, flush=True)
    results["load_average"] = f"{load_before:.1f}–{os.getloadavg()[0]:.1f}"
    text_table, scan_table = results["text"]["retrieval"], results["scan"]["retrieval"]
    results["recall@5_scan_minus_text"] = {
        method: round(scan_table[method]["all"]["recall@5"] - text_table[method]["all"]["recall@5"], 3)
        for method in text_table}
    output = json.dumps(results, indent=1, ensure_ascii=False)
    if args.json:
        args.json.write_text(output, encoding="utf-8")
    print(output)


if __name__ == "__main__":
    main()
