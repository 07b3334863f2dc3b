"""The app's plain parts: where the library comes from, the ``mmrag ui`` command line, upload checks."""

from __future__ import annotations

import io
import re
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from mmrag.cli.ui_cmd import APP_SCRIPT, streamlit_command
from mmrag.ui.state import library_argument, library_location
from mmrag.ui.uploads import UploadError, read_image_upload, save_reference_upload


@pytest.mark.parametrize(("argv", "expected"), [
    (["--library", "/a/b"], "/a/b"),
    (["--library=/a/b"], "/a/b"),
    (["-L", "/a/b"], "/a/b"),
    (["--other", "x"], None),
    (["--library"], None),
])
def test_library_argument(argv: list[str], expected: str | None) -> None:
    assert library_argument(argv) == expected


def test_library_location_prefers_the_argument_then_the_environment(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_LIBRARY", str(tmp_path / "from-env"))
    assert library_location(["--library", str(tmp_path / "from-arg")]) == tmp_path / "from-arg"
    assert library_location([]) == tmp_path / "from-env"
    monkeypatch.delenv("MMRAG_LIBRARY")
    from mmrag.settings import default_library_path

    assert library_location([]) == default_library_path()


def test_streamlit_command_line(tmp_path: Path) -> None:
    command = streamlit_command("127.0.0.1", 8765, tmp_path)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)] and APP_SCRIPT.is_file()
    options = dict(zip(command[5:-3:2], command[6:-3:2], strict=True))
    assert options == {"--server.address": "127.0.0.1", "--server.port": "8765", "--server.headless": "true",
                       "--server.maxUploadSize": "20", "--server.fileWatcherType": "none",
                       "--browser.gatherUsageStats": "false",
                       "--client.toolbarMode": "minimal"}
    assert command[-3:] == ["--", "--library", str(tmp_path)]


def test_mmrag_ui_refuses_a_library_it_cannot_open(ui_library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mmrag.cli import app

    monkeypatch.setenv("MMRAG_CLIP_MODEL", "ViT-B-32")  # the library's vectors come from tiny-test
    result = CliRunner().invoke(app, ["ui", "--library", str(ui_library), "--port", "1"])
    assert result.exit_code == 1 and "holds image vectors made by" in result.output


def _upload(name: str, data: bytes) -> SimpleNamespace:
    return SimpleNamespace(name=name, size=len(data), getvalue=lambda: data)


def _jpeg(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_uploads_are_size_limited_and_decoded(tmp_path: Path) -> None:
    data = _jpeg()
    upload = read_image_upload(_upload("ok.jpg", data))
    assert upload.image.size == (40, 30) and upload.image.mode == "RGB" and upload.format == "JPEG"
    with pytest.raises(UploadError, match=r"big\.jpg: 0\.\d\d MB is larger than the 0\.00 MB limit"):
        read_image_upload(_upload("big.jpg", data), max_bytes=100)
    with pytest.raises(UploadError, match=r"big\.jpg: 21 MB is larger than the 20 MB limit"):  # the default
        read_image_upload(_upload("big.jpg", b"x" * (21 * 1024 * 1024)))
    with pytest.raises(UploadError, match=r"huge\.jpg: 4000×3000 = 12,000,000 pixels is more than the 1,000,000-pixel"):
        read_image_upload(_upload("huge.jpg", _jpeg((4000, 3000))), max_pixels=1_000_000)
    with pytest.raises(UploadError, match=r"x\.png: not an image"):
        read_image_upload(_upload("x.png", b"%PDF-1.4 not an image"))

    path = save_reference_upload(tmp_path / "lib", upload)
    assert path.parent == tmp_path / "lib" / "uploads" and path.suffix == ".jpg" and path.read_bytes() == data
    assert save_reference_upload(tmp_path / "lib", upload) == path  # same bytes, same file
    assert [p.name for p in (tmp_path / "lib" / "uploads").iterdir()] == [path.name]  # no temp file left


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 128).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_12000_pixel_upload_is_a_message_naming_the_file_and_the_fix() -> None:
    huge = _png((12000, 12000))  # 144 Mpixels: over Pillow's bomb-warning size, a few hundred KB
    with pytest.raises(UploadError) as caught:
        read_image_upload(_upload("huge.png", huge))
    message = str(caught.value)
    assert message.startswith("huge.png: 12000×12000 = 144,000,000 pixels is more than the 89,478,485-pixel limit")
    assert "shrink the image" in message and "MMRAG_INGEST__MAX_IMAGE_PIXELS" in message
    # a limit raised above Pillow's, with some other code's "error" warnings filter in force: still a message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UploadError, match=r"huge\.png: too many pixels for Pillow .*shrink the image"):
            read_image_upload(_upload("huge.png", huge), max_pixels=200_000_000)


def test_ingest_decoding_in_threads_leaves_no_warnings_filter_behind() -> None:
    """ingest/images.py used warnings.catch_warnings() + simplefilter("error") in decode threads, which left
    an "error" filter installed for the whole process (then any bomb warning became a traceback)."""
    from concurrent.futures import ThreadPoolExecutor

    from mmrag.errors import InputError
    from mmrag.ingest.images import open_image

    huge, small = _png((12000, 12000)), _jpeg()
    before = list(warnings.filters)

    def decode(index: int) -> str:
        try:
            return open_image(huge if index % 2 else small, f"f{index}.png", max_pixels=10_000_000).format or ""
        except InputError as exc:
            return str(exc)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(decode, range(8)))
    assert warnings.filters == before
    assert all("image too large (12000x12000" in r for r in results[1::2]) and set(results[::2]) == {"JPEG"}


@pytest.mark.parametrize("text", [
    "[click me](https://example.com) **bold**.jpg", "$x^2$", "# not a heading", "1. not a list", "- nor this",
    "a_b_c *d* `e` <b>f</b> ~~g~~ | h & i :smile: \\ j", "two\nlines", "www.example.com me@example.com",
])
def test_user_text_is_shown_literally(text: str) -> None:
    """md_escape'd text renders (CommonMark, as Streamlit's Markdown does) to exactly the typed characters."""
    import html

    from markdown_it import MarkdownIt

    from mmrag.ui.components import ZWSP, md_escape

    escaped = md_escape(text)
    rendered = MarkdownIt("commonmark").render(escaped).strip().replace(ZWSP, "")
    assert rendered == f"<p>{html.escape(' '.join(text.splitlines()), quote=False)}</p>"
    assert not re.search(r"://|www\.|\w@", escaped.replace("\\", ""))  # nothing Streamlit would turn into a link


def _param(at: object, name: str) -> str | None:
    value = at.query_params.get(name)  # type: ignore[attr-defined]
    return value if value is None or isinstance(value, str) else value[-1]


def test_the_url_drives_the_search_and_follows_it(ui_library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``?q=`` runs the search on opening; values that do not fit are dropped with a note; the URL then follows
    the page (a new search, the open item)."""
    from streamlit.testing.v1 import AppTest
    from ui_library import APP

    monkeypatch.setenv("MMRAG_LIBRARY", str(ui_library))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update({"q": "a rocket", "cols": "8", "kind": ["image", "nonsense"], "k": "7", "page": "1"})
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["search.request"]["text"] == "a rocket" and at.session_state["search.hits"]
    assert at.session_state["grid.columns"] == 8 and at.session_state["filter.kind"] == ["image"]
    notes = " ".join(w.value for w in at.warning)
    assert "kind=nonsense" in notes and "k=7" in notes and "page" not in notes
    assert _param(at, "q") == "a rocket" and _param(at, "cols") == "8"
    assert "k" not in at.query_params and "page" not in at.query_params  # defaults stay out of the URL

    first = at.session_state["search.hits"][0].id
    at.session_state["search.selected"] = first
    at.run()
    assert _param(at, "item") == str(first)
    at.text_input(key="search.text").set_value("a horse")
    next(b for b in at.button if b.form_id == "search.form").click().run()
    assert _param(at, "q") == "a horse" and "item" not in at.query_params


def test_the_duplicates_explanation_shows_the_thresholds_the_code_uses() -> None:
    """The Duplicates page's "How duplicates are found" is built from the constants, so it cannot go stale."""
    from mmrag.retrieval.dedup_icon_pairs import ICON_MARGIN
    from mmrag.retrieval.dedup_verify import ALIGNED_SAME, ICON_REFRAME, ICON_SAME, MIN_INLIERS
    from mmrag.ui.views.duplicates import thresholds

    text = thresholds()
    for shown in (f"**{ALIGNED_SAME:.2f}**", f"**{MIN_INLIERS}**", f"**{ICON_SAME:.2f}**", f"**{ICON_MARGIN:.2f}**",
                  f"**{ICON_REFRAME * 100:.0f} %**"):
        assert shown in text
