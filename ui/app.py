"""The Streamlit entry point: ``mmrag ui`` or ``streamlit run ui/app.py -- --library DIR``.

Each page is a script under ``ui/views/``; the library is opened once per server (``ui.state``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mmrag.ui import access, state
from mmrag.ui.search_url import KEPT_WIDGETS

VIEWS = Path(__file__).resolve().parent / "views"
PAGES = (  # file, title, icon
    ("search.py", "Search", ":material/search:"),
    ("ask.py", "Ask", ":material/question_answer:"),
    ("generate.py", "Generate", ":material/palette:"),
    ("duplicates.py", "Duplicates", ":material/content_copy:"),
    ("library.py", "Library", ":material/folder_open:"),
)
# Thumbnails of a grid share one height (whole image shown, letterboxed) so rows line up; not in fullscreen,
# where Streamlit gives the image an inline max-height (the search grid is ui/grid.py's own element).
STYLE = """<style>
.st-key-related [data-testid="stImage"] img:not([style*="max-height"]),
.st-key-dup-groups [data-testid="stImage"] img:not([style*="max-height"]) {
  height: 190px; object-fit: contain; background: rgba(128, 128, 128, 0.08); border-radius: 0.4rem;
}
.st-key-results-head [data-testid="stCaptionContainer"] p { margin-bottom: 0; }
</style>"""


def main() -> None:
    st.set_page_config(page_title="mmrag", page_icon=":material/image_search:", layout="wide")
    st.html(STYLE)
    location = state.library_location()
    try:
        lib = state.library()
    except Exception as exc:  # noqa: BLE001 - the app cannot work without its library: say why
        st.error(f"Cannot open the library at `{location}`: {exc}", icon=":material/error:")
        st.stop()
        return
    access.gate(lib)  # a sign-in form first when the server listens beyond loopback
    state.keep_widget_values(KEPT_WIDGETS)
    pages = [st.Page(VIEWS / name, title=title, icon=icon, default=index == 0)
             for index, (name, title, icon) in enumerate(PAGES)]
    page = st.navigation(pages)
    st.sidebar.caption(f"Library `{lib.path}`")
    page.run()


if __name__ == "__main__":
    main()
