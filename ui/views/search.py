"""Search page: a text box and an image upload, sidebar filters, a grid of thumbnails with scores; per result
a reference checkbox (for Generate), thumbs up/down and details with "More like this".

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.ui import state
from mmrag.ui.components import grid, hit_caption, plural, show_hit_image
from mmrag.ui.details import details_panel
from mmrag.ui.feedback import vote
from mmrag.ui.filters import SearchOptions, sidebar_options
from mmrag.ui.uploads import IMAGE_TYPES, UploadError, read_image_upload, upload_limit_mb

if TYPE_CHECKING:
    from mmrag.library import Library
    from mmrag.retrieval.hits import Hit

REQUEST = "search.request"  # dict: text, image (PIL, memory only), similar (asset id), label, n
RESULT_KEY = "search.result_key"  # request number + options the shown hits were computed with
SECONDS = "search.seconds"
ERROR = "search.error"
SELECTED = "search.selected"  # asset id whose details are open


def render() -> None:
    lib = state.library()
    st.title("Search")
    options = sidebar_options(lib)
    query_form(lib)
    request = st.session_state.get(REQUEST)
    if request is None:
        st.caption(f"{_count_hint(lib)} Describe what you are looking for, or drop an image.")
        return
    refresh(lib, request, options)
    if st.session_state.get(SELECTED) is not None:
        details_panel(lib, st.session_state[SELECTED], on_similar=more_like_this, on_close=close_details)
    results(lib, request)


def query_form(lib: Library) -> None:
    with st.form("search.form", border=False, enter_to_submit=True):
        left, right = st.columns([3, 2], vertical_alignment="top")
        text = left.text_input("What are you looking for?", key="search.text",
                               placeholder="e.g. a cat on a sofa, a red rocket at night")
        submitted = left.form_submit_button("Search", type="primary", icon=":material/search:")
        upload = right.file_uploader("…or search with an image", type=IMAGE_TYPES, key="search.image",
                                     max_upload_size=upload_limit_mb(),
                                     help="Drag and drop an image here. Text and image together make one query.")
    if submitted:
        submit(lib, text, upload)


def submit(lib: Library, text: str | None, upload: Any) -> None:
    """Validate the form and make it the current request (the search itself runs in ``refresh``)."""
    text = (text or "").strip() or None
    image = None
    if upload is not None:
        try:
            image = read_image_upload(upload, max_pixels=lib.settings.ingest.max_image_pixels)
        except UploadError as exc:
            st.error(f"Cannot search with this upload: {exc}", icon=":material/broken_image:")
            return
    if text is None and image is None:
        st.error("Type what you are looking for, or upload an image.", icon=":material/edit:")
        return
    label = " + ".join(part for part in (text, image and f"image:{image.name}") if part)
    new_request({"text": text, "image": image.image if image else None, "label": label})


def new_request(request: dict[str, Any]) -> None:
    previous = st.session_state.get(REQUEST) or {}
    st.session_state[REQUEST] = {"text": None, "image": None, "similar": None, **request,
                                 "n": previous.get("n", 0) + 1}
    st.session_state[SELECTED] = None


def more_like_this(asset_id: int) -> None:
    new_request({"similar": int(asset_id), "label": f"similar:#{asset_id}"})


def close_details() -> None:
    st.session_state[SELECTED] = None


def select(asset_id: int) -> None:
    st.session_state[SELECTED] = asset_id


def refresh(lib: Library, request: dict[str, Any], options: SearchOptions) -> None:
    """Run the search when the request or the options changed since the hits on screen were computed."""
    key = f"{request['n']}|{options.key()}"
    if st.session_state.get(RESULT_KEY) == key:
        return
    start = time.perf_counter()
    try:
        hits, error = run_search(lib, request, options), None
    except Exception as exc:  # noqa: BLE001 - shown on the page
        hits, error = [], f"Search failed: {exc}"
    st.session_state[state.HITS] = hits
    st.session_state[SECONDS] = time.perf_counter() - start
    st.session_state[ERROR] = error
    st.session_state[RESULT_KEY] = key


def run_search(lib: Library, request: dict[str, Any], options: SearchOptions) -> list[Hit]:
    if request.get("similar") is not None:
        return lib.similar(request["similar"], k=options.k, filters=options.filters)
    return lib.search(text=request["text"], image=request["image"], image_weight=options.image_weight,
                      k=options.k, filters=options.filters)


def results(lib: Library, request: dict[str, Any]) -> None:
    if st.session_state.get(ERROR):
        st.error(st.session_state[ERROR], icon=":material/error:")
        return
    hits: list[Hit] = st.session_state.get(state.HITS, [])
    seconds = st.session_state.get(SECONDS, 0.0)
    heading = _heading(lib, request)
    st.caption(f"{plural(len(hits), 'result')} for {heading} in {seconds * 1000:.0f} ms",
               help="Search time on the server.")
    if not hits:
        st.info("No results. Try other words, or loosen the filters in the sidebar.")
        return
    refs = state.session(state.REFS, {})
    with st.container(key="results"):
        for hit, column in grid(hits):
            with column:
                result_cell(lib, hit, request["label"], hit.id in refs)


def result_cell(lib: Library, hit: Hit, query: str, picked: bool) -> None:
    show_hit_image(lib.path, hit)
    st.caption(hit_caption(hit))
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.checkbox("Reference", value=picked, key=f"ref.{hit.id}", on_change=toggle_reference, args=(hit,))
        vote("result", query, asset_id=hit.id)
        st.button("Details", key=f"details.{hit.id}", on_click=select, args=(hit.id,), type="tertiary",
                  icon=":material/info:")


def toggle_reference(hit: Hit) -> None:
    refs: dict[int, Hit] = state.session(state.REFS, {})
    if st.session_state.get(f"ref.{hit.id}"):
        refs[hit.id] = hit
    else:
        refs.pop(hit.id, None)


def _heading(lib: Library, request: dict[str, Any]) -> str:
    if request.get("similar") is None:
        return f"**{request['label']}**"
    try:
        return f"**more like #{request['similar']}** ({Path(lib.get_asset(request['similar']).path).name})"
    except ValueError:
        return f"**more like #{request['similar']}**"


def _count_hint(lib: Library) -> str:
    from sqlalchemy import func, select

    from mmrag.catalog.models import Asset

    with lib.catalog.session() as session:
        count = session.execute(select(func.count()).where(Asset.status == "ok", Asset.kind != "document"))
        images = int(count.scalar_one())
    if not images:
        return "The library has no images yet: ingest a folder on the Library page."
    return f"{images} images in the library."


if __name__ == "__main__":
    render()
