"""The search page's state in the URL (``st.query_params``): a search survives a reload and can be bookmarked.

``?q=`` is the text query (``?similar=ID`` a "More like this" search), ``kind``/``tags`` (repeated), ``folder``,
``after``/``before`` (YYYY-MM-DD), ``k`` (results per page), ``cols``, ``page`` (1-based) and ``item`` (the open
details). The URL is read once per browser session, before the widgets exist; after that the page writes its
state back on every run. Values that do not fit (an unknown kind or tag, a bad date, a number out of range) are
dropped with a note naming them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import streamlit as st

from .filters import DEFAULTS, K_MAX, K_MIN, K_STEP
from .grid import MAX_COLUMNS, MIN_COLUMNS

LOADED = "search.url_loaded"
NOTES = "search.url_notes"  # values from the URL that were dropped, with the reason
TEXT = "search.text"  # the text box
# The search form's widget values, kept when the user switches pages or a fragment reruns (ui.state.keep_widget_values).
KEPT_WIDGETS = (TEXT, *DEFAULTS)
PAGE = "search.page"
SELECTED = "search.selected"  # asset id whose details are open
LIST_PARAMS = {"kind": "filter.kind", "tags": "filter.tags"}
OWN = ("q", "similar", "kind", "tags", "folder", "after", "before", "k", "cols", "page", "item")


def _number(low: int, high: int, step: int = 1) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high or (value - low) % step:
            raise ValueError(f"not between {low} and {high}" + (f" in steps of {step}" if step > 1 else ""))
        return value
    return parse


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("not a positive number")
    return value


SCALARS: dict[str, tuple[str, Callable[[str], Any]]] = {  # URL name -> (session key, parser)
    "folder": ("filter.folder", str),
    "after": ("filter.after", date.fromisoformat),
    "before": ("filter.before", date.fromisoformat),
    "k": ("search.k", _number(K_MIN, K_MAX, K_STEP)),
    "cols": ("grid.columns", _number(MIN_COLUMNS, MAX_COLUMNS)),
    "page": (PAGE, _positive),
    "item": (SELECTED, _positive),
}


def read_url(allowed_values: Callable[[], dict[str, Sequence[str]]]) -> dict[str, Any] | None:
    """On a session's first run: copy the URL's values into the session state and return the request the URL
    names (``{"text": ...}`` or ``{"similar": id}``), or None. ``allowed_values()`` lists the kinds and tags."""
    if st.session_state.get(LOADED):
        return None
    st.session_state[LOADED] = True
    params, notes, choices = st.query_params, [], allowed_values()
    for name, key in LIST_PARAMS.items():
        values = params.get_all(name)
        allowed = [value for value in values if value in choices[name]]
        notes += [f"{name}={value} (not one of: {', '.join(choices[name]) or 'none yet'})"
                  for value in values if value not in allowed]
        if allowed:
            st.session_state[key] = allowed
    for name, (key, parse) in SCALARS.items():
        if name in params:
            try:
                st.session_state[key] = parse(params[name])
            except ValueError as exc:
                notes.append(f"{name}={params[name]} ({exc})")
    st.session_state[NOTES] = notes
    similar = params.get("similar", "")
    if similar.isdigit():
        return {"similar": int(similar), "label": f"similar:#{similar}"}
    text = params.get("q", "").strip()
    if text:
        st.session_state[TEXT] = text
        return {"text": text, "label": text}
    return None


def write_url(request: dict[str, Any] | None) -> None:
    """Put the current query, filters, page and open item into the URL (only the values that differ from the
    defaults, so a plain search stays ``?q=...``)."""
    from .filters import DEFAULTS

    wanted: dict[str, str | list[str]] = {}
    if request and request.get("similar") is not None:
        wanted["similar"] = str(request["similar"])
    elif request and request.get("text") and request.get("image") is None:
        wanted["q"] = request["text"]
    for name, key in LIST_PARAMS.items():
        if st.session_state.get(key):
            wanted[name] = list(st.session_state[key])
    for name, (key, _) in SCALARS.items():
        value = st.session_state.get(key)
        if value not in (None, "", DEFAULTS.get(key)) and not (key == PAGE and value == 1):
            wanted[name] = value.isoformat() if isinstance(value, date) else str(value)
    params = st.query_params
    for name in OWN:
        if name not in wanted and name in params:
            del params[name]
    for name, value in wanted.items():
        current = params.get_all(name) if isinstance(value, list) else params.get(name)
        if current != value:
            params[name] = value
