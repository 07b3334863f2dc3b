"""Search page: a text box (``?q=`` in the URL) and an image drop zone (searches on drop, with a preview),
sidebar filters, an even grid of thumbnails (``ui.grid``: click one for the details dialog, the star picks it
for Generate), pages of results. Before a query: counts by kind, what each page does, the newest images.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.catalog.models import IMAGE_KINDS
from mmrag.ui import search_home, state
from mmrag.ui.components import image_source, md_escape, plural
from mmrag.ui.details import SCORE_MEANING, known_tags
from mmrag.ui.filters import SearchOptions, sidebar_options
from mmrag.ui.grid import Cell, thumbnail_grid, uri_for
from mmrag.ui.search_dialog import ORDER, SHOWN, details_dialog, hit_of, open_item, toggle_reference
from mmrag.ui.search_url import KEPT_WIDGETS, NOTES, PAGE, SELECTED, TEXT, read_url, write_url
from mmrag.ui.uploads import IMAGE_TYPES, UploadError, read_image_upload, upload_limit_mb

if TYPE_CHECKING:
    from mmrag.library import Library
    from mmrag.retrieval.hits import Hit

REQUEST = "search.request"  # dict: text, image (PIL, memory only), similar (asset id), label, n
RESULT_KEY = "search.result_key"  # request number + options + page the shown hits were computed with
SECONDS = "search.seconds"
ERROR = "search.error"
UPLOAD = "search.image"  # the drop zone
UPLOAD_ERROR = "search.upload_error"
FORM_ERROR = "search.form_error"
PREVIEW = "search.preview"  # (name, small JPEG data URI) of the query image


def render() -> None:
    lib = state.library()
    st.title("Search")
    from_url = read_url(lambda: {"kind": list(IMAGE_KINDS), "tags": known_tags(lib.catalog)})
    if from_url is not None:
        state.keep_widget_values(KEPT_WIDGETS)  # the URL's text and filters outlive a fragment's rerun too
        new_request(from_url, keep_place=True)
    options = sidebar_options(lib)
    query_form()
    for note in st.session_state.get(NOTES, []):
        st.warning(f"Ignored from the address: {md_escape(note)}", icon=":material/link_off:")
    request = st.session_state.get(REQUEST)
    label = request["label"] if request else None
    if request is None:
        gridded = first_screen(lib, options)
    else:
        refresh(lib, request, options)
        gridded = results(lib, request, options, label)
    write_url(request)
    if not gridded and st.session_state.get(SELECTED) is not None:  # an item from the URL, with no grid
        details_dialog(label, more_like_this)


def query_form() -> None:
    left, right = st.columns([3, 2], vertical_alignment="top")
    with left, st.form("search.form", border=False, enter_to_submit=True):
        st.text_input("What are you looking for?", key=TEXT, placeholder="e.g. a cat on a sofa, a red rocket at night")
        st.form_submit_button("Search", type="primary", icon=":material/search:", on_click=submit)
        if st.session_state.get(FORM_ERROR):
            st.error(st.session_state[FORM_ERROR], icon=":material/edit:")
    with right:
        st.file_uploader("…or drop an image to search with it", type=IMAGE_TYPES, key=UPLOAD,
                         max_upload_size=upload_limit_mb(), on_change=dropped,
                         help="Searches as soon as it is dropped. With words in the box, Search uses both.")
        if st.session_state.get(UPLOAD_ERROR):
            st.error(md_escape(st.session_state[UPLOAD_ERROR]), icon=":material/broken_image:")
        elif st.session_state.get(PREVIEW) and st.session_state.get(UPLOAD) is not None:
            name, uri = st.session_state[PREVIEW]
            st.image(uri, caption=f"query image: {md_escape(name)}", width=120)


def read_upload() -> Any:
    """The decoded drop-zone image, or None; a bad file sets the error shown under the drop zone."""
    st.session_state[UPLOAD_ERROR] = None
    upload = st.session_state.get(UPLOAD)
    if upload is None:
        st.session_state[PREVIEW] = None
        return None
    try:
        image = read_image_upload(upload, max_pixels=state.library().settings.ingest.max_image_pixels)
    except UploadError as exc:
        st.session_state[UPLOAD_ERROR] = f"Cannot search with this image: {exc}"
        return None
    st.session_state[PREVIEW] = (image.name, _preview_uri(image.image))
    return image


def dropped() -> None:
    """A file dropped (search with it at once) or removed (back to the words, if any)."""
    image = read_upload()
    if image is not None:
        new_request({"image": image.image, "label": f"image:{image.name}"})
    elif st.session_state.get(UPLOAD) is None and (st.session_state.get(REQUEST) or {}).get("image") is not None:
        text = (st.session_state.get(TEXT) or "").strip()
        st.session_state[REQUEST] = None
        if text:
            new_request({"text": text, "label": text})


def submit() -> None:
    """The Search button: the words, and the dropped image if one is there."""
    text = (st.session_state.get(TEXT) or "").strip() or None
    image = read_upload()
    st.session_state[FORM_ERROR] = None
    if st.session_state.get(UPLOAD_ERROR):
        return
    if text is None and image is None:
        st.session_state[FORM_ERROR] = "Type what you are looking for, or drop an image."
        return
    label = " + ".join(part for part in (text, image and f"image:{image.name}") if part)
    new_request({"text": text, "image": image.image if image else None, "label": label})


def new_request(request: dict[str, Any], keep_place: bool = False) -> None:
    """Make ``request`` the current search; a new search starts on page 1 with no item open, unless it comes
    from the URL (``keep_place``)."""
    previous = st.session_state.get(REQUEST) or {}
    st.session_state[REQUEST] = {"text": None, "image": None, "similar": None, **request,
                                 "n": previous.get("n", 0) + 1}
    if not keep_place:
        st.session_state[SELECTED] = None
        st.session_state[PAGE] = 1


def more_like_this(asset_id: int) -> None:
    new_request({"similar": int(asset_id), "label": f"similar:#{asset_id}"})


def refresh(lib: Library, request: dict[str, Any], options: SearchOptions) -> None:
    """Run the search when the request, the options or the page changed since the hits were computed."""
    page = current_page()
    key = f"{request['n']}|{options.key()}|{page}"
    if st.session_state.get(RESULT_KEY) == key:
        return
    start = time.perf_counter()
    with st.spinner("Searching… (the first search after a start also loads the model)", show_time=True):
        try:
            hits, error = run_search(lib, request, options, options.k * page), None
        except Exception as exc:  # noqa: BLE001 - shown on the page
            hits, error = [], f"Search failed: {exc}"
    st.session_state[state.HITS] = hits[options.k * (page - 1):]
    st.session_state[SECONDS] = time.perf_counter() - start
    st.session_state[ERROR] = error
    st.session_state[RESULT_KEY] = key


def run_search(lib: Library, request: dict[str, Any], options: SearchOptions, k: int) -> list[Hit]:
    if request.get("similar") is not None:
        return lib.similar(request["similar"], k=k, filters=options.filters)
    return lib.search(text=request["text"], image=request["image"], image_weight=options.image_weight,
                      k=k, filters=options.filters)


def current_page() -> int:
    return max(1, int(st.session_state.get(PAGE) or 1))


def results(lib: Library, request: dict[str, Any], options: SearchOptions, label: str) -> bool:
    """The result count, the grid (with the open item's dialog) and the pager; True when a grid was drawn."""
    if st.session_state.get(ERROR):
        st.error(md_escape(st.session_state[ERROR]), icon=":material/error:")
        return False
    hits: list[Hit] = st.session_state.get(state.HITS, [])
    if request.get("similar") is not None:
        seed_header(lib, request["similar"])
    page = current_page()
    first = options.k * (page - 1) + 1
    shown = f"results {first}–{first + len(hits) - 1}" if page > 1 and hits else plural(len(hits), "result")
    with st.container(key="results-head"):
        st.caption(f"{shown} for **{md_escape(request['label'])}** in "
                   f"{st.session_state.get(SECONDS, 0.0) * 1000:.0f} ms · ordered by similarity, best first",
                   help=SCORE_MEANING)
    if not hits:
        st.info("No results. Try other words, or loosen the filters in the sidebar.")
        pager(page, has_next=False)
        return False
    grid_and_details(lib, hits, options.columns, True, label)
    pager(page, has_next=len(hits) >= options.k)
    return True


@st.fragment
def grid_and_details(lib: Library, hits: list[Hit], columns: int, scored: bool, label: str | None) -> None:
    """The grid and its open item's dialog, as one fragment: a click on a thumbnail or a star reruns only this,
    not the page (the form, filters and search stay as they are); the dialog is a fragment of its own."""
    show_grid(lib, hits, columns, scored)
    if st.session_state.get(SELECTED) is not None:
        details_dialog(label, more_like_this)


def show_grid(lib: Library, hits: list[Hit], columns: int, scored: bool) -> None:
    """The hits as an even grid; ``scored``: their scores mean something (a search, not the newest items)."""
    refs = state.session(state.REFS, {})
    st.session_state[ORDER] = [hit.id for hit in hits]
    st.session_state[SHOWN] = {hit.id: hit for hit in hits} if scored else {}
    cells = [Cell(id=hit.id, src=uri_for(image_source(lib.path, hit.path, hit.extra.get("sha256"))),
                  name=Path(hit.path).name, caption=Path(hit.path).name, title=_title(hit, scored),
                  picked=hit.id in refs) for hit in hits]
    with st.container(key="results"):
        thumbnail_grid(cells, columns, key="results.grid", on_open=open_item, on_pick=toggle_reference)


def _title(hit: Hit, scored: bool) -> str:
    size = f" · {hit.width}×{hit.height}" if hit.width and hit.height else ""
    return f"#{hit.id} · {hit.path}{size}" + (f" · score {hit.score:.3f}" if scored else "")


def pager(page: int, has_next: bool) -> None:
    if page == 1 and not has_next:
        return
    with st.container(horizontal=True, vertical_alignment="center", key="pager"):
        st.button("Previous page", key="page.prev", icon=":material/chevron_left:", disabled=page == 1,
                  on_click=_turn, args=(-1,))
        st.caption(f"page {page}")
        st.button("Next page", key="page.next", icon=":material/chevron_right:", disabled=not has_next,
                  on_click=_turn, args=(1,))


def _turn(delta: int) -> None:
    st.session_state[PAGE] = max(1, current_page() + delta)
    st.session_state[SELECTED] = None


def seed_header(lib: Library, asset_id: int) -> None:
    """After "More like this": the image the results are like."""
    try:
        asset = lib.get_asset(asset_id)
    except ValueError as exc:
        st.warning(md_escape(exc))
        return
    with st.container(horizontal=True, vertical_alignment="center", key="seed"):
        uri = uri_for(image_source(lib.path, asset.path, asset.sha256))
        if uri:
            st.image(uri, width=96)
        st.markdown(f"More like **#{asset.id} · {md_escape(Path(asset.path).name)}**")


def first_screen(lib: Library, options: SearchOptions) -> bool:
    """Counts by kind, what each page does, and the newest images as a grid; True when there is a grid."""
    search_home.welcome(search_home.counts_by_kind(lib.catalog))
    recent = search_home.recent_images(lib.catalog)
    if not recent:
        return False
    st.caption(f"Added last ({len(recent)}): click one to see it, then “More like this”.")
    grid_and_details(lib, [hit_of(asset) for asset in recent], options.columns, False, None)
    return True


def _preview_uri(image: Any) -> str:
    import base64
    import io

    small = image.copy()
    small.thumbnail((240, 240))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


if __name__ == "__main__":
    render()
