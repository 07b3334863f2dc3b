"""The search page in a real browser: ``mmrag ui`` on a free loopback port (tiny CLIP library), Debian's Chromium
through Playwright. Search by text, by URL (``?q=``), by dropping an image; the details dialog (opened from a
lower row, Previous/Next, Esc), More like this with its seed image, the pick star, page switches keeping the
form, bad uploads and Markdown/LaTeX in user text. No page may ever contain "Traceback". Screenshots of the
first screen, results and dialog at 1400×1000, light and dark, go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import io
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from test_browser import (  # noqa: F401 - server is a fixture used here
    ARTIFACTS,
    STEP_TIMEOUT_MS,
    _settled,
    server,
)

from mmrag.ui.components import ZWSP

pytestmark = pytest.mark.integration
GRID = ".st-key-results"
DIALOG = '[role="dialog"]'



def _tab(browser: Any, url: str, scheme: str = "light") -> Any:
    tab = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    tab.goto(url)
    tab.get_by_role("heading", name="Search").wait_for()
    _ready(tab)
    return tab


def _ready(tab: Any, thumbnails: int = 0) -> None:
    """The run finished, no exception or traceback on the page, and ``thumbnails`` grid images decoded."""
    _settled(tab)
    if thumbnails:
        tab.wait_for_function(
            "([sel, n]) => { const imgs = [...document.querySelectorAll(sel + ' .mm-open img')];"
            " return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0); }", arg=[GRID, thumbnails])
    assert "Traceback" not in tab.content()


def _shot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _search(tab: Any, text: str) -> None:
    tab.get_by_label("What are you looking for?").fill(text)
    tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Search").click()
    _results(tab, text)


def _results(tab: Any, label: str) -> None:
    tab.locator(".st-key-results-head").get_by_text(f"results for {label}", exact=False).wait_for()
    _ready(tab, thumbnails=4)


def _names(tab: Any) -> list[str]:
    return tab.locator(f"{GRID} .mm-caption").all_inner_texts()


def _query(tab: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlparse(tab.url).query)


def _plain(text: str) -> str:
    return text.replace(ZWSP, "")  # the zero-width space md_escape puts into URLs so that they stay text


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 128).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(tab: Any, name: str, data: bytes, mime: str) -> None:
    tab.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_first_screen_text_search_url_and_dialog(browser: Any, server: str, scheme: str) -> None:  # noqa: F811
    tab = _tab(browser, server, scheme)
    home = tab.locator(".st-key-search-home").inner_text()
    assert "The library holds" in home and "images" in home and "documents" in home
    _ready(tab, thumbnails=12)  # the newest images, before any query
    _shot(tab, f"search-01-first-screen-{scheme}")

    _search(tab, "a red rocket")
    names = _names(tab)
    assert len(names) >= 12 and _query(tab)["q"] == ["a red rocket"]
    tops = sorted({round(box["y"]) for box in (c.bounding_box() for c in tab.locator(f"{GRID} .mm-cell").all())})
    per_row = len(names) // max(1, len(tops)) if len(tops) > 1 else len(names)
    assert 4 <= per_row <= 10, (per_row, tops)  # an even grid: 6 columns by default at 1400 px
    _shot(tab, f"search-02-results-{scheme}")

    cell = tab.locator(f"{GRID} .mm-open").nth(min(len(names) - 1, 13))  # a lower row
    cell.scroll_into_view_if_needed()
    name = tab.locator(f"{GRID} .mm-caption").nth(min(len(names) - 1, 13)).inner_text()
    cell.click()
    dialog = tab.locator(DIALOG)
    dialog.get_by_text(name).first.wait_for()
    _ready(tab)
    box = dialog.bounding_box()
    assert box is not None and 0 <= box["y"] < 1000 and box["height"] > 300  # where the user is, not off-screen
    dialog.locator('[data-testid="stImage"] img').first.wait_for()
    shown, natural = dialog.locator('[data-testid="stImage"] img').first.evaluate(
        "i => [i.getBoundingClientRect().height, i.naturalHeight]")
    assert shown >= min(natural, 400) - 2, (shown, natural)  # the whole image, not a 190-px strip
    assert "item" in _query(tab)
    _shot(tab, f"search-03-dialog-{scheme}")

    dialog.get_by_role("button", name="Next").click()
    tab.wait_for_function("name => !document.querySelector('[role=dialog] .st-key-details').innerText.includes(name)",
                          arg=name)  # the next item replaced it
    _ready(tab)
    dialog.get_by_role("button", name="Previous").click()
    dialog.locator(".st-key-details").get_by_text(name).first.wait_for()
    _ready(tab)
    position = dialog.locator(".st-key-details-nav").inner_text()
    tab.keyboard.press("ArrowRight")  # the arrow keys step like the buttons
    tab.wait_for_function("name => !document.querySelector('[role=dialog] .st-key-details').innerText.includes(name)",
                          arg=name)
    _ready(tab)
    assert dialog.locator(".st-key-details-nav").inner_text() != position
    tab.keyboard.press("ArrowLeft")
    dialog.locator(".st-key-details").get_by_text(name).first.wait_for()
    _ready(tab)
    assert dialog.locator(".st-key-details-nav").inner_text() == position
    tab.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    tab.wait_for_function("() => !new URLSearchParams(location.search).has('item')")  # the URL forgets it
    _ready(tab)
    tab.close()


def test_url_reload_more_like_this_pick_and_page_switch(browser: Any, server: str) -> None:  # noqa: F811
    tab = _tab(browser, f"{server}/?q=a+bowl+of+coffee&cols=8")
    _results(tab, "a bowl of coffee")  # ?q= ran the search on load
    from playwright.sync_api import expect  # retries until the box shows it: the run may still be drawing the form

    expect(tab.get_by_label("What are you looking for?")).to_have_value("a bowl of coffee", timeout=STEP_TIMEOUT_MS)
    first = _names(tab)[0]
    tab.reload()
    _results(tab, "a bowl of coffee")
    assert _names(tab)[0] == first

    tab.locator(f"{GRID} .mm-open").first.click()
    tab.locator(DIALOG).get_by_role("button", name="More like this").click()
    tab.locator(".st-key-seed").get_by_text(first).wait_for()  # the seed image and its name above the grid
    _results(tab, "similar:#")
    assert tab.locator(".st-key-seed img").count() == 1 and "similar" in _query(tab)
    assert first not in _names(tab)

    tab.locator(f"{GRID} .mm-pick").first.click()  # picked for Generate
    tab.locator(f'{GRID} .mm-pick[aria-pressed="true"]').first.wait_for()
    _ready(tab)
    tab.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Ask").click()
    tab.get_by_role("heading", name="Ask").wait_for()
    _ready(tab)
    tab.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Search").click()
    tab.get_by_role("heading", name="Search").wait_for()
    _results(tab, "similar:#")  # the same results, the pick, the words and the columns are still there
    tab.locator(f'{GRID} .mm-pick[aria-pressed="true"]').first.wait_for()
    assert tab.get_by_label("What are you looking for?").input_value() == "a bowl of coffee"
    columns = tab.locator('[data-testid="stSlider"]', has_text="Columns").locator('input[type="range"]')
    assert columns.input_value() == "8"
    tab.close()


def test_drop_an_image_and_bad_input_messages(browser: Any, server: str, sample_photos: Path) -> None:  # noqa: F811
    tab = _tab(browser, server)
    _upload(tab, "rocket.jpg", (sample_photos / "rocket.jpg").read_bytes(), "image/jpeg")
    _results(tab, "image:rocket.jpg")  # searched on drop, no click
    assert _names(tab)[0] == "rocket.jpg"
    assert "score 1.000" in tab.locator(f"{GRID} .mm-open").first.get_attribute("title")
    tab.get_by_text("query image: rocket.jpg").wait_for()  # the preview

    _upload(tab, "huge.png", _png((12000, 12000)), "image/png")
    alert = tab.locator('[data-testid="stAlert"]', has_text="huge.png")
    alert.wait_for()
    text = alert.inner_text()
    assert "12000×12000" in text and "pixel limit" in text and "MMRAG_INGEST__MAX_IMAGE_PIXELS" in text
    _ready(tab)

    tricky = "[click me](https:example.com) **bold** $x^2$.png"
    _upload(tab, tricky, b"not an image at all", "image/png")
    alert = tab.locator('[data-testid="stAlert"]', has_text="not an image")
    alert.wait_for()
    assert tricky in _plain(alert.inner_text())  # shown as typed: no link, no bold, no maths
    assert alert.locator("a, strong, .katex").count() == 0
    _ready(tab)

    tab.locator('[data-testid="stFileChipDeleteBtn"] button').first.click()
    _ready(tab)
    query = "$x^2$ [click me](https://example.com) **bold**"
    _search(tab, query)
    head = tab.locator(".st-key-results-head")
    assert query in _plain(head.inner_text()) and head.locator("a, .katex").count() == 0
    assert _plain(head.locator("strong").inner_text()) == query  # the only bold is the app's own emphasis
    tab.close()


def test_bad_values_in_the_url_are_named_not_fatal(browser: Any, server: str) -> None:  # noqa: F811
    tab = _tab(browser, f"{server}/?q=a+cat&kind=nonsense&k=5&after=yesterday&item=999999")
    _results(tab, "a cat")
    notes = tab.locator('[data-testid="stAlert"]').all_inner_texts()
    assert any("kind=nonsense" in n for n in notes) and any("k=5" in n for n in notes)
    assert any("after=yesterday" in n for n in notes)
    tab.locator(DIALOG).get_by_text("999999").first.wait_for()  # the missing item is named in the dialog
    _ready(tab)
    tab.close()
