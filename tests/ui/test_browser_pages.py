"""Ask, Generate, Duplicates, Library and the login in a real browser: ``mmrag ui`` (real Streamlit server
processes) over a library whose photos lie under ``serve.ingest_roots``, driven with Playwright in Debian's
Chromium. Screenshots of each page at 1400×1000 in light and dark go to ``test-artifacts/ui/``; no page may
ever contain "Traceback".

Skipped when Chromium is not installed, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from test_browser import (  # the shared harness: server start/stop, settle, screenshots
    ARTIFACTS,
    STEP_TIMEOUT_MS,
    _free_port,
    _images_loaded,
    _settled,
    _stop,
    _wait_healthy,
)
from ui_library import write_documents

pytestmark = pytest.mark.integration
VIEWPORT = {"width": 1400, "height": 1000}
QUESTION = "How long does a domestic cat sleep?"
SLOW_MS = 300_000  # a first question or generation loads a model: minutes on 2 loaded cores


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, sample_photos: Path, tiny_clip: Any) -> Path:
    """Photos (+ an exact copy of coffee.jpg) and two documents under an ingest root; generation on tiny-test."""
    from mmrag import Library

    root = tmp_path_factory.mktemp("ui-pages")
    source = root / "source"
    shutil.copytree(sample_photos, source / "photos")
    shutil.copy(source / "photos" / "coffee.jpg", source / "photos" / "coffee-copy.jpg")
    write_documents(source / "docs")
    lib = Library(root / "library", clip_model="tiny-test", device="cpu", clip=tiny_clip,
                  serve={"ingest_roots": [str(source)]}, generation={"model": "tiny-test"})
    try:
        lib.ingest([source])
        lib.settings.save()
    finally:
        lib.close()
    return root / "library"


def _start(library: Path, cache: Path, *extra: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    env = {**os.environ, "MMRAG_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("MMRAG_LIBRARY", None)
    log = ARTIFACTS / f"server-pages-{port}.log"
    command = [sys.executable, "-c", "from mmrag.cli import app; app()", "ui", "--port", str(port),
               "--library", str(library), *extra]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
    except BaseException:
        _stop(process)
        raise
    return url, process


@pytest.fixture(scope="module")
def server(chromium: str, library: Path, tiny_model_cache: Path) -> Iterator[str]:  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url, process = _start(library, tiny_model_cache)
    try:
        yield url
    finally:
        _stop(process)


def _tab(browser: Any, scheme: str = "light") -> Any:
    tab = browser.new_context(viewport=VIEWPORT, color_scheme=scheme).new_page()
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    return tab


def _open(tab: Any, url: str, heading: str) -> None:
    tab.goto(url)
    tab.get_by_role("heading", name=heading).first.wait_for()
    _settled(tab)
    _clean(tab)


def _clean(tab: Any) -> None:
    assert "Traceback" not in tab.content()


def _shot(tab: Any, name: str) -> None:
    """A screenshot once every widget is drawn (the front end shows skeletons first) and images have loaded."""
    tab.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')"
                          " && [...document.images].every(i => i.complete)")
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _click(tab: Any, name: str) -> None:
    tab.get_by_role("button", name=name).first.click()
    _settled(tab)
    _clean(tab)


def ask(tab: Any, url: str) -> None:
    _open(tab, f"{url}/ask", "Ask")
    tab.get_by_text("Documents (2)").wait_for()  # the first screen lists the documents and sample questions
    tab.locator("button", has_text="What do the documents say about").first.wait_for()  # sample questions
    _shot(tab, "pages-ask-empty-light")
    tab.get_by_label("Your question").fill(QUESTION)
    tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Ask").click()
    answer = tab.locator(".st-key-answer")
    answer.wait_for(timeout=SLOW_MS)  # the first question loads the text model
    _settled(tab)
    _clean(tab)
    assert QUESTION in answer.inner_text() and "sixteen hours" in answer.inner_text()
    link = answer.locator('a[href="#source-1"]')
    assert link.count() >= 1  # the citation marker is a link to its source
    assert "q=" in tab.url  # the question lives in the URL
    link.first.click()
    if not tab.locator('[data-testid="stExpanderDetails"]').first.is_visible():  # one source opens by itself
        tab.locator('[data-testid="stExpander"] summary').first.click()
    tab.locator('[data-testid="stExpanderDetails"]').first.get_by_text("sixteen hours", exact=False).wait_for()
    _shot(tab, "pages-ask-light")
    _open(tab, f"{url}/ask?q={quote(QUESTION)}", "Ask")  # a reload (a new session) asks again from the URL
    assert QUESTION in tab.locator(".st-key-answer").inner_text()
    tab.get_by_label("Your question").fill("What is the airspeed velocity of an unladen swallow?")
    tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Ask").click()
    answer.get_by_text("airspeed velocity", exact=False).wait_for(timeout=SLOW_MS)  # the new answer, not the old
    _settled(tab)
    text = tab.locator('[data-testid="stMain"]').inner_text()
    assert "closest passages are below" not in text
    assert "do not answer" in text or "No document passage" in text


def generate(tab: Any, url: str, library: Path) -> None:
    _open(tab, f"{url}/generate", "Generate")
    tab.get_by_text("Find references by search").click()
    tab.get_by_label("Describe the reference").fill("a cat")
    tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Search").click()
    _settled(tab)
    _click(tab, "Use")
    # the click's rerun may not have started when the settle check first looks: its "Picked" button shows it ran
    tab.get_by_role("button", name="Picked").first.wait_for(timeout=STEP_TIMEOUT_MS)
    _settled(tab)
    mode = tab.locator('[data-testid="stSelectbox"]').filter(has_text="Mode")
    shown = mode.inner_text() + " ".join(i.input_value() for i in mode.locator("input").all())
    shown += " ".join(mode.locator("[value]").evaluate_all("nodes => nodes.map(n => n.getAttribute('value'))"))
    assert "img2img" in shown, shown  # references picked: img2img by default
    assert tab.locator('[data-testid="stSelectbox"]').filter(has_text="Control").locator(
        "input").first.is_disabled()  # not used by img2img
    tab.get_by_label("Prompt", exact=True).fill("a watercolor cat")
    tab.get_by_label("Steps").fill("2")
    tab.get_by_label("Seed").fill("7")
    tab.get_by_label("Seed").press("Tab")
    tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Generate").click()
    tab.get_by_text("saved to the library", exact=False).wait_for(timeout=SLOW_MS)  # loads the tiny pipeline
    _settled(tab)
    _clean(tab)
    main = tab.locator('[data-testid="stMain"]').inner_text()
    assert "Done: 1 denoising step per image (Steps 2 × Strength 0.6)" in main, main
    _images_loaded(tab, ".st-key-gen-output-1", 3)  # reference, init image, output
    assert "Reference: none" not in main and "seed 7" in main
    tab.locator(".st-key-gen-gallery").wait_for()  # the gallery with provenance
    output = tab.locator(".st-key-gen-output-1")
    output.scroll_into_view_if_needed()
    _shot(tab, "pages-generate-light")
    assert any((library / "generated").glob("*-s7.png"))


def duplicates(tab: Any, url: str, library: Path) -> None:
    _open(tab, f"{url}/duplicates", "Duplicates")
    group = tab.locator(".st-key-dup-groups")
    group.get_by_text("Group 1", exact=False).wait_for()  # found on arrival, no click
    _images_loaded(tab, ".st-key-dup-groups", 2)
    assert "exact copy" in group.inner_text()
    copy = next(p for p in (library.parent / "source" / "photos").glob("coffee*.jpg"))
    assert copy.is_file()
    _shot(tab, "pages-duplicates-light")
    group.get_by_role("button", name="Keep this").first.click()
    _settled(tab)
    notice = tab.locator(".st-key-dup-notice")
    notice.wait_for()
    tab.get_by_text("Trash (1)").wait_for()
    _settled(tab)
    assert "moved 1 file to the trash" in notice.inner_text()
    photos = library.parent / "source" / "photos"
    assert sum((photos / n).is_file() for n in ("coffee.jpg", "coffee-copy.jpg")) == 1
    assert "Trash (1)" in tab.locator('[data-testid="stMain"]').inner_text()
    _shot(tab, "pages-duplicates-trashed-light")
    notice.get_by_role("button", name="Undo").click()
    _settled(tab)
    _clean(tab)
    tab.get_by_text("Restored 1 file", exact=False).wait_for()
    tab.get_by_text("Trash (0)").wait_for()
    _settled(tab)
    assert (photos / "coffee.jpg").is_file() and (photos / "coffee-copy.jpg").is_file()
    tab.locator(".st-key-dup-groups").get_by_text("Group 1", exact=False).wait_for()  # the pair is back


def library_page(tab: Any, url: str, library: Path, sample_photos: Path) -> None:
    _open(tab, f"{url}/library", "Library")
    tab.get_by_label("Folder on the server", exact=True).fill("/usr/share/doc")
    tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Ingest").click()
    _settled(tab)
    tab.get_by_text("outside the allowed folders", exact=False).wait_for()
    tab.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        str(sample_photos / "astronaut.jpg"))
    tab.get_by_text("astronaut.jpg").first.wait_for()
    _settled(tab)
    _click(tab, "Upload and ingest")
    tab.get_by_text("Added 1", exact=False).wait_for()
    assert (library / "files" / "astronaut.jpg").is_file()
    _shot(tab, "pages-library-light")


def dark_screens(browser: Any, url: str) -> None:
    tab = _tab(browser, "dark")
    for path, heading, name in ((f"/ask?q={quote(QUESTION)}", "Ask", "ask"), ("/generate", "Generate", "generate"),
                                ("/duplicates", "Duplicates", "duplicates"), ("/library", "Library", "library")):
        _open(tab, url + path, heading)
        if name == "duplicates":
            _images_loaded(tab, ".st-key-dup-groups", 2)
        _shot(tab, f"pages-{name}-dark")
    tab.context.close()


def test_ask_generate_duplicates_library_in_a_browser(browser: Any, server: str, library: Path,
                                                      sample_photos: Path) -> None:
    tab = _tab(browser)
    try:
        ask(tab, server)
        generate(tab, server, library)
        duplicates(tab, server, library)
        library_page(tab, server, library, sample_photos)
    finally:
        tab.context.close()
    dark_screens(browser, server)


def test_a_non_local_bind_needs_a_key_and_a_login(browser: Any, library: Path, tiny_model_cache: Path) -> None:
    from typer.testing import CliRunner

    from mmrag import Library
    from mmrag.cli import app
    from mmrag.serve.keys import add_key, revoke_key

    refused = CliRunner().invoke(app, ["ui", "--host", "0.0.0.0", "--port", "1", "--library", str(library)])
    assert refused.exit_code == 1 and "needs a login" in refused.output and "mmrag keys add" in refused.output
    with Library(library) as lib:
        secret, _ = add_key(lib.catalog, "ui-test")
    url, process = _start(library, tiny_model_cache, "--host", "0.0.0.0")
    tab = _tab(browser)
    try:
        _open(tab, url, "Sign in")
        assert tab.locator('[data-testid="stSidebarNav"]').count() == 0  # nothing but the form
        tab.get_by_label("API key").fill("mmrag_wrong")
        _click(tab, "Sign in")
        tab.get_by_text("This key is not valid", exact=False).wait_for()
        _shot(tab, "pages-login-light")
        tab.get_by_label("API key").fill(secret)
        tab.get_by_role("button", name="Sign in").click()
        tab.get_by_role("heading", name="Search").first.wait_for()
        _settled(tab)
        _clean(tab)
    finally:
        tab.context.close()
        _stop(process)
        with Library(library) as lib:
            revoke_key(lib.catalog, "ui-test")
    started = (ARTIFACTS / f"server-pages-{url.rsplit(':', 1)[1]}.log").read_text(errors="replace")
    assert "login required" in started and "Traceback" not in started


def _sign_in(tab: Any, url: str, secret: str) -> None:
    _open(tab, url, "Sign in")
    tab.get_by_label("API key").fill(secret)
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("heading", name="Search").first.wait_for()
    _settled(tab)
    _clean(tab)


def _nav(tab: Any, page: str) -> None:
    """Another page by the sidebar (a new address would be a new session, signed out)."""
    tab.locator('[data-testid="stSidebarNav"] a', has_text=page).first.click()
    tab.get_by_role("heading", name=page).first.wait_for()
    _settled(tab)
    _clean(tab)


def read_only_pages(tab: Any, scheme: str) -> None:
    """Duplicates, Generate and Library as a read-only key sees them: write controls off, a note says why."""
    _nav(tab, "Duplicates")
    group = tab.locator(".st-key-dup-groups")
    group.get_by_text("Group 1", exact=False).wait_for()
    _images_loaded(tab, ".st-key-dup-groups", 2)
    keep = group.get_by_role("button", name="Keep this")
    assert keep.count() >= 2 and all(keep.nth(i).is_disabled() for i in range(keep.count()))
    main = tab.locator('[data-testid="stMain"]').inner_text()
    assert "not with this key" in main and "needs the 'write' scope" in main, main
    _shot(tab, f"pages-readonly-duplicates-{scheme}")
    _nav(tab, "Generate")
    assert tab.get_by_role("button", name="Generate", exact=True).is_disabled()
    assert tab.locator('[data-testid="stFileUploaderDropzoneInput"]').first.is_disabled()
    assert "not with this key" in tab.locator('[data-testid="stMain"]').inner_text()
    _shot(tab, f"pages-readonly-generate-{scheme}")
    _nav(tab, "Library")
    assert tab.locator('[data-testid="stFileUploaderDropzoneInput"]').first.is_disabled()
    assert tab.get_by_role("button", name="Upload and ingest").is_disabled()
    assert tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Ingest").is_disabled()
    assert tab.get_by_label("Folder on the server", exact=True).is_disabled()
    _shot(tab, f"pages-readonly-library-{scheme}")


def test_a_read_only_key_has_no_write_actions_in_a_browser(browser: Any, library: Path,
                                                          tiny_model_cache: Path) -> None:
    from mmrag import Library
    from mmrag.serve.keys import add_key, revoke_key

    with Library(library) as lib:
        secret, _ = add_key(lib.catalog, "ui-reader", "read")
        before = sorted(p.name for p in (library.parent / "source" / "photos").iterdir())
        trashed = len(lib.trash_list())
    url, process = _start(library, tiny_model_cache, "--host", "0.0.0.0")
    try:
        for scheme in ("light", "dark"):
            tab = _tab(browser, scheme)
            try:
                _sign_in(tab, url, secret)
                assert "read-only" in tab.locator('[data-testid="stSidebar"]').inner_text()
                read_only_pages(tab, scheme)
            finally:
                tab.context.close()
    finally:
        _stop(process)
        with Library(library) as lib:
            revoke_key(lib.catalog, "ui-reader")
            assert len(lib.trash_list()) == trashed
    assert sorted(p.name for p in (library.parent / "source" / "photos").iterdir()) == before
