"""The details dialog of the search page (``st.dialog``: it opens where the user is, Esc closes it): the item
(``ui.details``), Previous/Next through the grid's order (buttons, or the Left/Right arrow keys), More like
this, Reference for Generate and thumbs.

The open item lives in ``st.session_state[SELECTED]`` (and in the URL as ``?item=``); the dialog reads it on
every run. A dialog is a fragment, so Previous/Next (and the arrow keys) rerun only the dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

from . import state
from .details import details_body
from .feedback import vote
from .search_url import SELECTED

if TYPE_CHECKING:
    from ..retrieval.hits import Hit

ORDER = "search.order"  # the ids on the grid, in order: Previous/Next walk them
SHOWN = "search.shown"  # dict[int, Hit]: the hits on the grid (scores, and references for Generate)
DIALOG_WIDTH = 1200
ARROWS = "details.arrows"  # the arrow-key element's state key
# Left/Right anywhere on the page step the open dialog, except while typing in a field or moving a slider; one
# listener at a time (the previous one is removed when the element is drawn again or leaves the page).
ARROWS_JS = """
let listening = null;
export default function (component) {
  const { setTriggerValue } = component;
  if (listening) document.removeEventListener('keydown', listening);
  listening = (event) => {
    if (event.repeat || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    const typing = 'input:not([type="checkbox"]), textarea, select, [contenteditable], [role="slider"]';
    if (event.target && event.target.closest && event.target.closest(typing)) return;
    event.preventDefault();
    setTriggerValue('step', event.key === 'ArrowLeft' ? -1 : 1);
  };
  document.addEventListener('keydown', listening);
  const mine = listening;
  return () => { document.removeEventListener('keydown', mine); if (listening === mine) listening = null; };
}
"""


def open_item(asset_id: int) -> None:
    st.session_state[SELECTED] = int(asset_id)


def close() -> None:
    st.session_state[SELECTED] = None
    st.query_params.pop("item", None)


def step(delta: int) -> None:
    """Open the previous (-1) or next (+1) item of the grid, wrapping around."""
    order: list[int] = st.session_state.get(ORDER, [])
    current = st.session_state.get(SELECTED)
    if current in order:
        st.session_state[SELECTED] = order[(order.index(current) + delta) % len(order)]


@st.cache_resource(show_spinner=False)
def _arrows_component() -> Any:
    return st.components.v2.component("mmrag_arrows", js=ARROWS_JS)


def arrow_keys() -> None:
    """Left/Right call :func:`step` (drawn inside the dialog, so a key press reruns only the dialog)."""
    _arrows_component()(key=ARROWS, on_step_change=_arrow_step)


def _arrow_step() -> None:
    value = (st.session_state.get(ARROWS) or {}).get("step")
    if value in (-1, 1):
        step(int(value))


def hit_of(asset: Any) -> Hit:
    """A catalog row as a search hit (for an item opened from the first screen or the URL)."""
    from ..retrieval.hits import Hit

    return Hit(id=asset.id, path=asset.path, score=0.0, kind=asset.kind, width=asset.width, height=asset.height,
               extra={"sha256": asset.sha256} if asset.sha256 else {})


def toggle_reference(asset_id: int) -> None:
    """Pick an item as a reference for Generate, or drop it (the grid's star and the dialog's checkbox)."""
    refs: dict[int, Hit] = state.session(state.REFS, {})
    if asset_id in refs:
        refs.pop(asset_id)
        return
    hit = st.session_state.get(SHOWN, {}).get(asset_id)
    if hit is None:
        try:
            hit = hit_of(state.library().get_asset(asset_id))
        except ValueError:
            return
    refs[asset_id] = hit


@st.dialog("Details", width=DIALOG_WIDTH, on_dismiss=close)
def details_dialog(query_label: str | None, on_similar: Callable[[int], None]) -> None:
    asset_id = st.session_state.get(SELECTED)
    if asset_id is None:
        return
    st.query_params["item"] = str(asset_id)
    order: list[int] = st.session_state.get(ORDER, [])
    refs: dict[int, Hit] = state.session(state.REFS, {})
    with st.container(horizontal=True, vertical_alignment="center", key="details-nav"):
        many = len(order) > 1 and asset_id in order
        st.button("Previous", key="details.prev", icon=":material/chevron_left:", on_click=step, args=(-1,),
                  disabled=not many)
        st.button("Next", key="details.next", icon=":material/chevron_right:", on_click=step, args=(1,),
                  disabled=not many)
        if asset_id in order:
            st.caption(f"{order.index(asset_id) + 1} of {len(order)}", help="← and → step through the results; "
                       "Esc closes.")
        similar = st.button("More like this", key="details.similar", icon=":material/image_search:",
                            type="primary")
        ref_key = f"ref.{asset_id}"
        st.session_state[ref_key] = asset_id in refs
        st.checkbox("Reference for Generate", key=ref_key, on_change=toggle_reference, args=(asset_id,))
        if query_label:
            vote("result", query_label, asset_id=asset_id)
    if similar:
        on_similar(asset_id)
        st.rerun()
    with st.container(key="details"):
        details_body(state.library(), asset_id, st.session_state.get(SHOWN, {}).get(asset_id))
    if many:
        arrow_keys()
