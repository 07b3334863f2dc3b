"""A read-only API key in the web app (``mmrag ui`` on a non-loopback address, through ``AppTest``): every
write control is off with a note saying why, and each write handler checks the session's key again when it
runs, so a control drawn for a write key refuses once the session holds a read-only one. The scope rule is the
REST service's (``serve.keys.KeyInfo.allows``). Streamlit also drops a value sent for a widget that its run
draws disabled (a form's submit, an uploader), so those writes stop before their handler: each test checks that
nothing was written."""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from ui_library import APP

from mmrag.retrieval.feedback import export_feedback
from mmrag.ui.access import LOGIN_FLAG, SECRET

TIMEOUT = 60
WRITE_NEEDED = "this needs the 'write' scope"


@pytest.fixture
def keys(ui_library: Path) -> Iterator[Callable[..., str]]:
    """``keys(scope, library)``: a new key's secret; every key made is revoked after the test."""
    from mmrag import Library
    from mmrag.serve.keys import add_key, revoke_key

    made: list[tuple[Path, str]] = []

    def make(scope: str, library: Path = ui_library) -> str:
        name = f"ui-{scope}-{uuid.uuid4().hex[:8]}"
        with Library(library) as lib:
            secret, _ = add_key(lib.catalog, name, scope)
        made.append((library, name))
        return secret

    yield make
    for library, name in made:
        with Library(library) as lib:
            revoke_key(lib.catalog, name)


@pytest.fixture
def signed_in(ui_library: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``signed_in(secret, page, library)``: the app as ``mmrag ui --host 0.0.0.0`` runs it (``--login``), in a
    session signed in with ``secret``, run once on ``page``."""

    def open_page(secret: str, page: str = "search", library: Path = ui_library) -> AppTest:
        monkeypatch.setenv("MMRAG_LIBRARY", str(library))
        monkeypatch.setattr(sys, "argv", [str(APP), LOGIN_FLAG])
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.session_state[SECRET] = secret
        at.run()
        if page != "search":
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
        assert not any(t.value == "Sign in" for t in at.title)
        return at

    return open_page


def _png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "PNG")
    return buffer.getvalue()


def _notes(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def _errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def _rooted(make_library, folder: Path, photos: Path, ingest: bool) -> Path:
    """A library whose ingest root holds ``photos`` (with an exact copy of coffee.jpg), ingested if ``ingest``."""
    import shutil

    shutil.copy(photos / "coffee.jpg", photos / "coffee-copy.jpg")
    lib = make_library(folder, serve={"ingest_roots": [str(photos)]})
    if ingest:
        lib.ingest([photos])
    lib.settings.save()  # the app opens it with the same (tiny) model and ingest roots
    lib.close()
    return folder


def test_a_read_only_key_cannot_move_duplicates_to_the_trash(signed_in, keys, make_library, tmp_path: Path,
                                                             photos: Path) -> None:
    library = _rooted(make_library, tmp_path / "rooted", photos, ingest=True)
    at = signed_in(keys("read", library), "duplicates", library)
    assert "Moving files to the trash and restoring them: not with this key" in _notes(at)
    assert "read-only" in "\n".join(c.value for c in at.sidebar.caption)
    keep = [b for b in at.button if b.key.startswith("dup.keep.")]
    assert keep and all(b.disabled for b in keep)
    at = signed_in(keys("write", library), "duplicates", library)  # drawn for a write key ...
    keep = next(b for b in at.button if b.key.startswith("dup.keep.") and not b.disabled)
    copies = [p for g in at.session_state["dup.groups"] for p in g.paths]
    at.session_state[SECRET] = keys("read", library)  # ... clicked by a session now holding a read-only key
    keep.click().run()
    assert not at.exception, at.exception
    assert "Nothing was moved" in _errors(at) and WRITE_NEEDED in _errors(at)
    assert all(Path(p).is_file() for p in copies)
    assert not (library / ".trash").exists() or not any((library / ".trash").iterdir())


def test_a_read_only_key_cannot_generate_or_upload_a_reference(signed_in, keys, ui_library: Path) -> None:
    at = signed_in(keys("read"), "generate")
    assert "Generating and uploading references: not with this key" in _notes(at)
    assert at.file_uploader(key="gen.upload").disabled
    assert next(b for b in at.button if b.form_id == "gen.form").disabled
    at = signed_in(keys("write"), "generate")
    at.text_area(key="gen.prompt").set_value("a red bicycle")
    at.selectbox(key="gen.mode").set_value("txt2img")
    at.session_state[SECRET] = keys("read")
    next(b for b in at.button if b.form_id == "gen.form").click().run()
    assert not at.exception, at.exception
    assert "gen.result" not in at.session_state and "not with this key" in _notes(at)
    uploads = ui_library / "uploads"
    before = set(uploads.iterdir()) if uploads.exists() else set()
    at.session_state[SECRET] = keys("write")
    at.run()
    uploader = at.file_uploader(key="gen.upload")
    at.session_state[SECRET] = keys("read")
    uploader.upload("green.png", _png((20, 200, 20)), "image/png").run()
    assert not at.exception, at.exception
    assert (set(uploads.iterdir()) if uploads.exists() else set()) == before
    assert not at.session_state["gen.uploads"]


def test_a_read_only_key_cannot_vote(signed_in, keys, ui_library: Path) -> None:
    from mmrag import Library

    def opened(secret: str) -> tuple[AppTest, str]:
        at = signed_in(secret)
        at.text_input(key="search.text").set_value("a rocket")
        next(b for b in at.button if b.form_id == "search.form").click().run()
        hit = at.session_state["search.hits"][0]
        at.session_state["search.selected"] = hit.id
        at.run()
        return at, next(f.key for f in at.feedback if f.key.endswith(f".{hit.id}."))

    at, key = opened(keys("read"))
    assert next(f for f in at.feedback if f.key == key).disabled
    at, key = opened(keys("write"))
    with Library(ui_library) as lib:
        count = len(export_feedback(lib.catalog))
    at.session_state[SECRET] = keys("read")
    next(f for f in at.feedback if f.key == key).set_value(1).run()
    assert not at.exception, at.exception
    assert "Feedback not saved" in "\n".join(t.value for t in at.toast)
    assert at.session_state[key] is None
    with Library(ui_library) as lib:
        assert len(export_feedback(lib.catalog)) == count


def test_a_read_only_key_cannot_ingest(signed_in, keys, make_library, tmp_path: Path, photos: Path) -> None:
    library = _rooted(make_library, tmp_path / "rooted", photos, ingest=False)
    at = signed_in(keys("read", library), "library", library)
    assert "Uploading and ingesting: not with this key" in _notes(at)
    assert at.file_uploader(key="lib.upload.0").disabled and at.button(key="lib.upload.go").disabled
    assert at.text_input(key="lib.folder").disabled
    assert next(b for b in at.button if b.form_id == "lib.ingest").disabled
    at = signed_in(keys("write", library), "library", library)
    at.text_input(key="lib.folder").set_value(str(photos))
    at.session_state[SECRET] = keys("read", library)
    next(b for b in at.button if b.form_id == "lib.ingest").click().run()
    assert not at.exception, at.exception
    assert "lib.report" not in at.session_state
    at.session_state[SECRET] = keys("write", library)
    at.run()
    at.file_uploader(key="lib.upload.0").upload("red.png", _png(), "image/png").run()
    at.session_state[SECRET] = keys("read", library)
    at.button(key="lib.upload.go").click().run()
    assert not at.exception, at.exception
    assert not (library / "files").exists()
    assert {m.label: m.value for m in at.metric}["Images"] == "0"


def test_a_write_key_has_the_write_controls(signed_in, keys, make_library, tmp_path: Path, photos: Path) -> None:
    library = _rooted(make_library, tmp_path / "rooted", photos, ingest=True)
    at = signed_in(keys("write", library), "duplicates", library)
    assert "not with this key" not in _notes(at)
    assert "read-only" not in "\n".join(c.value for c in at.sidebar.caption)
    assert any(not b.disabled for b in at.button if b.key.startswith("dup.keep."))
    at.switch_page("views/generate.py").run()
    assert not at.file_uploader(key="gen.upload").disabled
    assert not next(b for b in at.button if b.form_id == "gen.form").disabled
