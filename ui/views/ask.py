"""Ask page: a question answered from the library's documents, with numbered citations that open onto their
source passage, the related images, and thumbs up/down on the answer and on each source.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.ui import state
from mmrag.ui.components import image_row
from mmrag.ui.feedback import vote

if TYPE_CHECKING:
    from mmrag.library import Library

ANSWER = "ask.answer"
SECONDS = "ask.seconds"
MODES = ("hybrid", "dense", "bm25")


def render() -> None:
    lib = state.library()
    st.title("Ask")
    options = sidebar_options(lib)
    with st.form("ask.form", border=False):
        question = st.text_area("Your question", key="ask.question", height=90,
                                placeholder="e.g. How do I read a CSV file?")
        submitted = st.form_submit_button("Ask", type="primary", icon=":material/send:")
    if submitted:
        ask(lib, question, options)
    answer = st.session_state.get(ANSWER)
    if answer is not None:
        show_answer(lib, answer)


def sidebar_options(lib: Library) -> dict[str, Any]:
    rag = lib.settings.rag
    st.sidebar.subheader("Retrieval")
    mode = st.sidebar.selectbox("Passage search", MODES, index=MODES.index(rag.mode) if rag.mode in MODES else 0,
                                key="ask.mode", help="hybrid = dense vectors + BM25 keywords, fused.")
    k = st.sidebar.slider("Passages", 1, 20, rag.top_k, key="ask.k")
    st.sidebar.caption(f"Answerer: `{rag.llm}` (set in the library's mmrag.toml)")
    return {"mode": mode, "k": int(k)}


def ask(lib: Library, question: str | None, options: dict[str, Any]) -> None:
    question = (question or "").strip()
    if not question:
        st.error("Type a question first.", icon=":material/edit:")
        return
    start = time.perf_counter()
    try:
        with st.spinner("Reading the library…"):
            answer = lib.ask(question, **options)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.error(f"Could not answer: {exc}", icon=":material/error:")
        return
    st.session_state[ANSWER] = answer
    st.session_state[SECONDS] = time.perf_counter() - start


def show_answer(lib: Library, answer: Any) -> None:
    with st.container(border=True, key="answer"):
        st.markdown(answer.text)
        meta = st.container(horizontal=True, vertical_alignment="center")
        meta.caption(f"{answer.llm} · {answer.mode} · {st.session_state.get(SECONDS, 0.0):.2f} s")
        with meta:
            vote("answer", answer.question)
    if not getattr(answer, "answered", True):
        st.info("The documents do not seem to answer this; the closest passages are below.")
    if answer.citations:
        st.subheader("Sources")
        for citation in answer.citations:
            citation_expander(citation, answer.question)
    if answer.images:
        st.subheader("Related images")
        image_row(lib.path, answer.images)


def citation_expander(citation: Any, question: str) -> None:
    label = getattr(citation, "label", None) or Path(citation.path).name
    with st.expander(f"[{citation.number}] {label}", icon=":material/description:"):
        st.text((citation.text or "").strip() or "(empty passage)", width="stretch")  # as written, no Markdown
        where = f"page {citation.page}" if citation.page is not None else "no page"
        st.caption(f"`{citation.path}` · {where} · score {citation.score:.3f}")
        vote("result", question, asset_id=citation.asset_id, chunk_id=citation.chunk_id)


if __name__ == "__main__":
    render()
