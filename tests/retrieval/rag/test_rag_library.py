"""Documents through a real Library: ingest, passage search (dense/BM25/hybrid, filters, CJK), ask with
citations and images, the llama-index adapters, the CLI, and re-ingest/delete of a document."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mmrag.retrieval.answerers.base import NO_ANSWER

QUESTION = "How do I reset the router?"
ROUTER_MD = """# Router manual

## Resetting

To reset the router, hold the reset button on the back for ten seconds. The lights blink while it restarts.

![back panel](pictures/back.png)

## Refunds

You can return the router within 30 days for a full refund of the price you paid.

## Wireless

The wireless network name and its password are printed on the label under the router.
"""
PUMP_HTML = """<html><head><title>Pump guide</title></head><body>
<h1>Pump guide</h1><p>The garden pump moves water from the rain barrel to the beds.</p>
<h2>Priming</h2><p>Fill the pump housing with water before the first start, otherwise the seal runs dry.</p>
<h2>Winter storage</h2><p>Drain all water and keep the pump indoors when frost is expected.</p>
</body></html>"""
CHINESE = "路由器的复位按钮在背面。按住复位按钮十秒钟即可恢复出厂设置。"


def _png(seed: int) -> bytes:
    pixels = (np.random.default_rng(seed).random((48, 64, 3)) * 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def make_docs(folder: Path) -> Path:
    (folder / "pictures").mkdir(parents=True)
    (folder / "pictures" / "back.png").write_bytes(_png(1))
    (folder / "router.md").write_text(ROUTER_MD, encoding="utf-8")
    (folder / "garden").mkdir()
    (folder / "garden" / "pump.html").write_text(PUMP_HTML, encoding="utf-8")
    french = "Le café du jardin ouvre à huit heures chaque matin."
    (folder / "garden" / "café.txt").write_bytes(french.encode("latin-1"))
    (folder / "zh.txt").write_text(CHINESE, encoding="utf-8")
    (folder / "photo.png").write_bytes(_png(2))
    Image.new("RGB", (120, 80), "white").save(folder / "scan.pdf", format="PDF")  # no text layer
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    (folder / "empty.md").write_bytes(b"")
    return folder


def open_library(path: Path, tiny_clip: Any, text_embedder: Any) -> Any:
    from mmrag import Library

    return Library(path, clip_model="tiny-test", device="cpu", clip=tiny_clip, text_embedder=text_embedder)


@pytest.fixture(scope="module")
def docs_library(tmp_path_factory: pytest.TempPathFactory, tiny_clip: Any, text_embedder: Any) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("rag")
    lib = open_library(root / "lib", tiny_clip, text_embedder)
    lib.test_docs = make_docs(root / "docs")
    lib.test_report = lib.ingest([lib.test_docs])
    yield lib
    lib.close()


def test_ingest_chunks_documents_and_skips_broken_ones(docs_library: Any) -> None:
    report = docs_library.test_report
    assert report.documents == 4 and report.chunks >= 6
    skipped = dict((Path(path).name, reason) for path, reason in docs_library.skipped())
    assert set(skipped) == {"scan.pdf", "broken.pdf", "empty.md"}
    assert "no extractable text" in skipped["scan.pdf"] and "empty" in skipped["empty.md"]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_passage_search_modes(docs_library: Any, mode: str) -> None:
    hits = docs_library.search_text(QUESTION, k=3, kind="text", mode=mode)
    top = hits[0]
    assert top.kind == "document" and top.path.endswith("router.md") and top.section == "Resetting"
    assert "hold the reset button" in top.text and top.chunk_id is not None and top.extra["mode"] == mode
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_rrf_fusion_and_bad_fusion_name(docs_library: Any) -> None:
    from mmrag.retrieval.text_search import search_passages

    hits = search_passages(docs_library.components, QUESTION, 2, mode="hybrid", fusion_method="rrf")
    assert hits[0].section == "Resetting" and hits[0].score == pytest.approx(1.0 / 11 + 0.75 / 11)
    with pytest.raises(ValueError, match="'best'.*convex, rrf"):
        search_passages(docs_library.components, QUESTION, 2, fusion_method="best")


def test_filters_restrict_passages(docs_library: Any) -> None:
    hits = docs_library.search_text(QUESTION, k=5, kind="text", filters={"folder": "garden"})
    assert hits and all("/garden/" in h.path for h in hits)
    assert docs_library.search_text(QUESTION, kind="text", filters={"path": "*/nothing-*"}) == []


def test_bad_mode_lists_valid_ones(docs_library: Any) -> None:
    with pytest.raises(ValueError, match="'fuzzy'.*dense, bm25, hybrid"):
        docs_library.search_text(QUESTION, kind="text", mode="fuzzy")


def test_chinese_passage_found_by_bm25(docs_library: Any) -> None:
    hits = docs_library.search_text("复位按钮在哪里", k=1, kind="text", mode="bm25")
    assert hits and hits[0].path.endswith("zh.txt")


def test_ask_cites_and_returns_the_linked_image(docs_library: Any) -> None:
    answer = docs_library.ask(QUESTION)
    assert answer.answered and answer.llm == "extractive" and answer.mode == "hybrid"
    assert "hold the reset button on the back for ten seconds" in answer.text
    first = answer.citations[0]
    assert f"[{first.number}]" in answer.text and first.section == "Resetting" and first.path.endswith("router.md")
    linked = [image for image in answer.images if image.extra.get("via") == "citation"]
    assert len(linked) == 1 and linked[0].extra["citation"] == first.number
    assert Path(linked[0].path).read_bytes() == (docs_library.test_docs / "pictures" / "back.png").read_bytes()
    assert any(image.extra.get("via") == "clip" for image in answer.images)
    data = answer.to_dict()
    assert data["citations"][0]["section"] == "Resetting" and data["images"]


def test_ask_off_topic_says_so(docs_library: Any) -> None:
    answer = docs_library.ask("Who painted the Mona Lisa?")
    assert not answer.answered and answer.text == NO_ANSWER and answer.citations == [] and answer.images == []


def test_ask_through_an_openai_compatible_server(docs_library: Any, chat_server: Any) -> None:
    answer = docs_library.ask(QUESTION, llm="openai-like", base_url=chat_server.url, model="local-model", k=3)
    assert answer.text == chat_server.reply and answer.llm == "openai-like"
    assert [c.section for c in answer.citations] == ["Resetting"]
    (_, body), = chat_server.requests
    prompt = body["messages"][-1]["content"]
    assert "[1] (router.md, § Resetting)" in prompt and "[2] (" in prompt and "[3] (" in prompt


def test_retriever_nodes(docs_library: Any) -> None:
    from llama_index.core import Settings

    nodes = docs_library.as_retriever(k=2).retrieve(QUESTION)
    assert len(nodes) == 2
    meta = nodes[0].node.metadata
    assert meta["section"] == "Resetting" and meta["path"].endswith("router.md") and "chunk_id" in meta
    assert "hold the reset button" in nodes[0].node.get_content()
    assert Settings._llm is None  # nothing global was configured


def test_query_engine_extractive(docs_library: Any) -> None:
    from llama_index.core import Settings

    response = docs_library.as_query_engine().query(QUESTION)
    assert "hold the reset button" in str(response) and "[1]" in str(response)
    assert response.source_nodes[0].node.metadata["section"] == "Resetting"
    assert response.metadata["answer"]["citations"][0]["number"] == 1
    assert Settings._llm is None


def test_query_engine_with_an_explicit_llm(docs_library: Any, chat_server: Any) -> None:
    from llama_index.core import Settings
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(model="m", api_base=chat_server.url, api_key="x", is_chat_model=True, max_retries=0)
    response = docs_library.as_query_engine(llm=llm, k=2).query(QUESTION)
    assert str(response) == chat_server.reply
    assert [n.node.metadata["section"] for n in response.source_nodes] == ["Resetting"]
    assert "[1] (router.md, § Resetting)" in chat_server.requests[0][1]["messages"][-1]["content"]
    assert Settings._llm is None


def test_cli_ask_prints_answer_sources_and_images(docs_library: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mmrag.cli import app

    monkeypatch.setenv("MMRAG_DEVICE", "cpu")  # the real command opens the library itself (and closes it)
    monkeypatch.setenv("MMRAG_LIBRARY", str(docs_library.path))
    result = CliRunner().invoke(app, ["ask", QUESTION, "--k", "3"])
    assert result.exit_code == 0, result.output
    assert "hold the reset button" in result.stdout and "Sources" in result.stdout
    assert "router.md, § Resetting" in result.stdout and "Related images" in result.stdout
    as_json = CliRunner().invoke(app, ["ask", QUESTION, "--json", "--mode", "bm25"])
    data = json.loads(as_json.stdout)
    assert data["mode"] == "bm25" and data["citations"][0]["section"] == "Resetting"
    bad = CliRunner().invoke(app, ["ask", QUESTION, "--llm", "gpt-9"])
    assert bad.exit_code == 1 and "valid answerers" in bad.output


def test_changed_and_deleted_documents(tmp_path: Path, tiny_clip: Any, text_embedder: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "device.md"
    page.write_text("# Device\n\nThe blue lamp means the battery is charging.\n", encoding="utf-8")
    lib = open_library(tmp_path / "lib", tiny_clip, text_embedder)
    lib.ingest([docs])
    assert "blue lamp" in lib.search_text("battery lamp", kind="text", mode="bm25")[0].text
    page.write_text("# Device\n\nThe orange lamp means the firmware is updating.\n", encoding="utf-8")
    lib.ingest([docs])
    texts = [h.text for h in lib.search_text("lamp", kind="text", k=5, mode="bm25")]
    assert len(texts) == 1 and "orange lamp" in texts[0]
    assert lib.search_text("battery charging", kind="text", mode="bm25") == []
    page.unlink()
    lib.ingest([docs])
    for mode in ("bm25", "dense", "hybrid"):
        assert lib.search_text("lamp", kind="text", mode=mode) == []
    assert lib.ask("What does the orange lamp mean?").answered is False
    lib.close()


@pytest.mark.slow
def test_r_faq_answer(r_manuals: Path, tmp_path: Path, tiny_clip: Any, text_embedder: Any) -> None:
    import shutil

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(r_manuals / "R-FAQ.html", docs)
    lib = open_library(tmp_path / "lib", tiny_clip, text_embedder)
    lib.ingest([docs])
    answer = lib.ask("How can I turn a factor back into the numbers it was read from?")
    assert answer.citations[0].section == "7.10 How do I convert factors to numeric?"
    assert "factor" in answer.text
    lib.close()
