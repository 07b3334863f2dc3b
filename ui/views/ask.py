"""Ask page: a question answered from the library's documents. The question is shown with its answer and lives
in the URL (``?q=``), so it survives a reload, a trip to another page and can be shared; the citations [n] in
the answer are links to their sources, each with the passage as written and, for a PDF, its page image. With no
question yet: sample questions and the list of documents. Thumbs up/down on the answer and on each source.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.ui import state
from mmrag.ui.components import image_row, md_escape
from mmrag.ui.feedback import vote

if TYPE_CHECKING:
    from mmrag.library import Library
    from mmrag.retrieval.answer import Answer, Citation

ANSWER = "ask.answer"
SECONDS = "ask.seconds"
QUESTION = "ask.question"  # the text box
ASKED = "ask.asked"  # the last question asked (kept when the page is left: widget values are not)
URL_READ = "ask.url_read"
MODES = ("hybrid", "dense", "bm25")
SAMPLES = 4
_MARKER = re.compile(r"\[(\d+(?:, \d+)*)\]")


def render() -> None:
    lib = state.library()
    st.title("Ask")
    options = sidebar_options(lib)
    from_url = _question_from_url()
    if QUESTION not in st.session_state:
        st.session_state[QUESTION] = st.session_state.get(ASKED, "")
    with st.form("ask.form", border=False):
        question = st.text_area("Your question", key=QUESTION, height=90,
                                placeholder="e.g. How do I read a CSV file?")
        submitted = st.form_submit_button("Ask", type="primary", icon=":material/send:")
    if submitted or from_url:
        ask(lib, question, options)
    answer = st.session_state.get(ANSWER)
    if answer is not None:
        show_answer(lib, answer)
    else:
        first_screen(lib)


def _question_from_url() -> bool:
    """Once per browser session: a ``?q=`` in the URL fills the box and is asked at once."""
    if st.session_state.get(URL_READ):
        return False
    st.session_state[URL_READ] = True
    text = (st.query_params.get("q") or "").strip()
    if text and text != st.session_state.get(ASKED):
        st.session_state[QUESTION] = text
        return True
    return False


def sidebar_options(lib: Library) -> dict[str, Any]:
    rag = lib.settings.rag
    st.sidebar.subheader("Retrieval")
    mode = st.sidebar.selectbox("Passage search", MODES, index=MODES.index(rag.mode) if rag.mode in MODES else 0,
                                key="ask.mode", help="hybrid = dense vectors + BM25 keywords, fused.")
    k = st.sidebar.slider("Passages", 1, 20, rag.top_k, key="ask.k")
    st.sidebar.caption(f"Answerer: {md_escape(rag.llm)} (set in the library's mmrag.toml)")
    return {"mode": mode, "k": int(k)}


def ask(lib: Library, question: str | None, options: dict[str, Any]) -> None:
    question = (question or "").strip()
    if not question:
        st.error("Type a question in **Your question** first.", icon=":material/edit:")
        return
    start = time.perf_counter()
    try:
        with st.spinner("Reading the library…"):
            answer = lib.ask(question, **options)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.error(f"Could not answer: {md_escape(exc)}", icon=":material/error:")
        return
    st.session_state[ANSWER] = answer
    st.session_state[ASKED] = question
    st.session_state[SECONDS] = time.perf_counter() - start
    st.query_params["q"] = question


def show_answer(lib: Library, answer: Answer) -> None:
    with st.container(border=True, key="answer"):
        st.markdown(f":material/help: **{md_escape(answer.question)}**")
        if answer.answered:
            st.markdown(linked_answer(answer.text, {c.number for c in answer.citations}))
        else:
            st.markdown(md_escape(answer.text))
        meta = st.container(horizontal=True, vertical_alignment="center")
        meta.caption(f"{md_escape(answer.llm)} · {answer.mode} · {st.session_state.get(SECONDS, 0.0):.2f} s")
        with meta:
            vote("answer", answer.question)
    if not answer.answered:
        closest_passages(lib, answer.question)
        return
    if answer.citations:
        st.subheader("Sources")
        for citation in answer.citations:
            citation_card(lib, citation, answer)
    other = [hit for hit in answer.images if hit.extra.get("via") != "citation"]
    if other:
        st.subheader("Related images")
        image_row(lib.path, other)


def linked_answer(text: str, numbers: set[int]) -> str:
    """The answer as Markdown: its text escaped, each citation marker [n] a link to source n below."""
    parts, last = [], 0
    for match in _MARKER.finditer(text):
        parts.append(md_escape(text[last:match.start()]))
        links = [f"[{n}](#source-{n})" if int(n) in numbers else n for n in match.group(1).split(", ")]
        parts.append("\\[" + ", ".join(links) + "\\]")
        last = match.end()
    parts.append(md_escape(text[last:]))
    return "".join(parts)


def closest_passages(lib: Library, question: str) -> None:
    """Below an unanswered question: what the documents hold nearest to it, or why there is nothing."""
    try:
        hits = lib.search_text(question, k=3, kind="text")
    except Exception as exc:  # noqa: BLE001 - the page stays usable
        st.warning(f"Cannot look for passages: {md_escape(exc)}", icon=":material/warning:")
        return
    if not hits:
        st.info("No document passage comes near this question. The documents are listed below.",
                icon=":material/info:")
        documents_list(lib)
        return
    st.info("The documents do not answer this. The nearest passages, none close enough to answer from:",
            icon=":material/info:")
    for hit in hits:
        with st.container(border=True):
            st.caption(f"{md_escape(Path(hit.path).name)}" + (f" · page {hit.page}" if hit.page else ""))
            st.text(" ".join((hit.text or "").split())[:600])


def citation_card(lib: Library, citation: Citation, answer: Answer) -> None:
    st.html(f'<span id="source-{citation.number}"></span>')
    with st.expander(f"[{citation.number}] {md_escape(citation.label)}", icon=":material/description:"):
        page_image = pdf_page(citation.path, citation.page)
        text_col, image_col = st.columns([3, 2]) if page_image is not None else (st.container(), None)
        with text_col:
            st.text((citation.text or "").strip() or "(empty passage)", width="stretch")  # as written
            where = f"page {citation.page}" if citation.page is not None else "no page"
            st.caption(f"{md_escape(citation.path)} · {where} · score {citation.score:.3f}")
            vote("result", answer.question, asset_id=citation.asset_id, chunk_id=citation.chunk_id)
        if image_col is not None:
            image_col.image(page_image, caption=f"page {citation.page}", width="stretch")
        pictures = [hit for hit in answer.images if hit.extra.get("citation") == citation.number]
        if pictures:
            image_row(lib.path, pictures, key=f"ask.pictures.{citation.number}")


@st.cache_data(max_entries=64, show_spinner=False)
def _page_png(path: str, mtime: float, page: int) -> bytes | None:
    """Page ``page`` (from 1) of a PDF as PNG bytes; None when it cannot be rendered."""
    import io

    from mmrag.ingest.documents.pdf_scan import PageRenderer

    renderer = PageRenderer(Path(path).read_bytes(), Path(path).name)
    try:
        image = renderer.render(page - 1)
    except Exception:  # noqa: BLE001 - no picture rather than no source
        return None
    finally:
        renderer.close()
    image.thumbnail((900, 1200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_page(path: str, page: int | None) -> bytes | None:
    file = Path(path)
    if page is None or file.suffix.lower() != ".pdf" or not file.is_file():
        return None
    return _page_png(str(file), file.stat().st_mtime, int(page))


def first_screen(lib: Library) -> None:
    """Before any question: what to ask (sample questions from the documents' sections) and what is there."""
    documents = document_rows(lib)
    if not documents:
        st.info("The library has no documents yet: add text, Markdown, HTML or PDF files on the **Library** "
                "page, then ask about them.", icon=":material/info:")
        return
    samples = sample_questions(lib)
    if samples:
        st.subheader("Try")
        row = st.container(horizontal=True)
        for number, sample in enumerate(samples):
            row.button(sample, key=f"ask.sample.{number}", on_click=_use_sample, args=(sample,),
                       icon=":material/lightbulb:")
    documents_list(lib, documents)


def _use_sample(question: str) -> None:
    st.session_state[QUESTION] = question
    st.session_state[URL_READ] = False
    st.query_params["q"] = question
    st.session_state[ASKED] = ""


def documents_list(lib: Library, rows: list[dict[str, Any]] | None = None) -> None:
    rows = document_rows(lib) if rows is None else rows
    st.subheader(f"Documents ({len(rows)})")
    st.dataframe(rows, hide_index=True, width="stretch", key="ask.documents")


def document_rows(lib: Library) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from mmrag.catalog import DOCUMENT, OK, Asset, Chunk

    with lib.catalog.session() as session:
        rows = session.execute(
            select(Asset.path, Asset.title, func.count(Chunk.id), func.max(Chunk.page))
            .join(Chunk, Chunk.asset_id == Asset.id, isouter=True)
            .where(Asset.kind == DOCUMENT, Asset.status == OK).group_by(Asset.id).order_by(Asset.path)).all()
    return [{"document": Path(path).name, "title": title or "", "passages": chunks, "pages": pages or "",
             "folder": str(Path(path).parent)} for path, title, chunks, pages in rows]


def sample_questions(lib: Library) -> list[str]:
    """Questions about the first few section headings of the documents."""
    from sqlalchemy import select

    from mmrag.catalog import Chunk

    with lib.catalog.session() as session:
        sections = session.execute(select(Chunk.section).where(Chunk.section.is_not(None))
                                   .order_by(Chunk.id).limit(200)).scalars().all()
    picked = list(dict.fromkeys(s.strip() for s in sections if s and 3 <= len(s.strip()) <= 60))
    return [f"What do the documents say about {section}?" for section in picked[:SAMPLES]]


if __name__ == "__main__":
    render()
