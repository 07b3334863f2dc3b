"""Where the app's state lives: the library (one per server, in Streamlit's resource cache) and the
per-browser-session values (in ``st.session_state``, under the keys named here).

The library folder comes from ``--library DIR`` after ``--`` on the ``streamlit run`` command line, else
``MMRAG_LIBRARY``, else the default library; its ``mmrag.toml`` supplies the models.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

if TYPE_CHECKING:
    from ..library import Library

# session-state keys shared between pages
REFS = "gen.refs"  # dict[int, Hit]: references picked on the search grid for the Generate page
HITS = "search.hits"  # list[Hit] of the last search
FEEDBACK_IDS = "feedback.ids"  # dict[widget key, feedback row id]: a changed vote replaces its row
KEPT_VALUES = "kept.values"  # dict[widget key, value]: the kept widget values as of the last full run


def library_argument(argv: Sequence[str]) -> str | None:
    """The value of ``--library DIR`` / ``--library=DIR`` / ``-L DIR`` in the script's arguments."""
    for index, arg in enumerate(argv):
        if arg.startswith("--library="):
            return arg.split("=", 1)[1]
        if arg in ("--library", "-L") and index + 1 < len(argv):
            return argv[index + 1]
    return None


def library_location(argv: Sequence[str] | None = None) -> Path:
    """The library folder the app serves (see the module docstring)."""
    from ..settings import default_library_path

    value = library_argument(sys.argv[1:] if argv is None else argv) or os.environ.get("MMRAG_LIBRARY")
    return Path(os.path.expanduser(value)).resolve() if value else default_library_path()


def _close(lib: Library) -> None:
    lib.close()


@st.cache_resource(show_spinner="Opening the library…", on_release=_close)
def open_library(location: str) -> Library:
    """One Library per folder and server process; it loads its models on first use and keeps them."""
    from ..library import Library

    return Library(location)


def library() -> Library:
    return open_library(str(library_location()))


def keep_widget_values(keys: Sequence[str]) -> None:
    """At the start of a full run: re-store each widget value as a plain session value, so it outlives a run of
    another page, and put back from a copy any value that a fragment's rerun dropped (Streamlit forgets the
    values of widgets a run does not draw; a fragment's rerun draws only the fragment)."""
    kept: dict[str, Any] = session(KEPT_VALUES, {})
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = kept[key] = st.session_state[key]
        elif key in kept:
            st.session_state[key] = kept[key]


def session(key: str, default: Any) -> Any:
    """``st.session_state[key]``, set to ``default`` first if missing."""
    if key not in st.session_state:
        st.session_state[key] = default
    return st.session_state[key]
