"""Each page of the Streamlit app through ``AppTest``, on a real library built with the tiny CLIP model."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from ui_library import APP, write_documents

from mmrag.retrieval.feedback import export_feedback

TIMEOUT = 60


@pytest.fixture
def open_app(ui_library: Path, monkeypatch: pytest.MonkeyPatch):
    """``open_app(page)``: the app over ``ui_library`` (through MMRAG_LIBRARY), run once on ``page``."""

    def open_page(page: str = "search", library: Path = ui_library) -> AppTest:
        monkeypatch.setenv("MMRAG_LIBRARY", str(library))
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
        if page != "search":
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
        return at

    return open_page


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _search(at: AppTest, text: str = "") -> AppTest:
    at.text_input(key="search.text").set_value(text)
    return _submit(at, "search.form")


def _submit(at: AppTest, form: str) -> AppTest:
    button = next(b for b in at.button if b.form_id == form)
    button.click().run()
    assert not at.exception, at.exception
    return at


def _lib(path: Path) -> Any:
    from mmrag import Library

    return Library(path)


def _png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_library_that_cannot_be_opened_is_reported(ui_library: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    copy = tmp_path / "library"  # a fresh path: the app's cache holds no Library for it yet
    shutil.copytree(ui_library, copy)
    monkeypatch.setenv("MMRAG_LIBRARY", str(copy))
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "ViT-B-32")  # not the model its vectors were made with
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    (error,) = _errors(at)
    assert f"Cannot open the library at `{copy}`" in error and "holds image vectors made by" in error


# -- search -----------------------------------------------------------------------------------------------------


def test_search_page_opens_with_filters_and_library(open_app, ui_library: Path) -> None:
    at = open_app()
    assert at.title[0].value == "Search"
    keys = {w.key for w in [*at.multiselect, *at.text_input, *at.date_input, *at.slider]}
    assert {"filter.kind", "filter.folder", "filter.after", "filter.before", "filter.tags", "search.k"} <= keys
    assert any("The library holds" in m.value and "images" in m.value for m in at.markdown)  # the first screen
    assert any(str(ui_library) in c.value for c in at.sidebar.caption)


def test_text_search_shows_a_grid_in_the_order_of_the_hits(open_app) -> None:
    at = _search(open_app(), "a cat on a sofa")
    hits = at.session_state["search.hits"]
    assert len(hits) >= 12
    assert any(c.value.startswith(f"{len(hits)} results for **a cat on a sofa**") for c in at.caption)
    assert at.session_state["search.order"] == [h.id for h in hits]  # the grid's cells, Previous/Next
    assert at.query_params["q"] == "a cat on a sofa"


def _open_details(at: AppTest, asset_id: int) -> AppTest:
    """What a click on a thumbnail does (the grid is a browser component; the browser test clicks it)."""
    at.session_state["search.selected"] = asset_id
    at.run()
    assert not at.exception, at.exception
    return at


def test_empty_query_is_an_error(open_app) -> None:
    at = _search(open_app(), "   ")
    assert any("Type what you are looking for" in e for e in _errors(at))
    assert "search.hits" not in at.session_state


def test_image_upload_finds_the_same_image_first_and_writes_nothing(open_app, ui_library: Path,
                                                                  sample_photos: Path) -> None:
    before = sorted(p for p in ui_library.rglob("*") if p.is_file())
    at = open_app()
    at.file_uploader(key="search.image").upload("rocket.jpg", (sample_photos / "rocket.jpg").read_bytes(),
                                                "image/jpeg")
    _search(at, "")
    hits = at.session_state["search.hits"]
    assert Path(hits[0].path).name == "rocket.jpg" and hits[0].score == pytest.approx(1.0, abs=1e-3)
    assert at.session_state["search.request"]["label"] == "image:rocket.jpg"
    # the catalog's WAL files, the lock, and an index's verified stamp (written by the first reader that checked
    # the index file in full; which test opens the shared library first depends on the order) are not uploads
    written = sorted(p for p in ui_library.rglob("*") if p.is_file() and p not in before and ".write.lock" not in
                     p.name and not p.name.startswith("catalog.sqlite") and p.suffix != ".verified")
    assert written == []


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("notes.png", b"this is not an image", "not an image"),
    ("cut.jpg", None, "damaged or truncated"),
    ("empty.png", b"", "empty"),
])
def test_bad_upload_is_an_error_naming_the_file(open_app, sample_photos: Path, name: str, data: bytes | None,
                                                reason: str) -> None:
    if data is None:
        data = (sample_photos / "coffee.jpg").read_bytes()[:2000]
    at = open_app()
    at.file_uploader(key="search.image").upload(name, data, "image/png")
    _search(at, "a cup")
    errors = _errors(at)
    assert errors and name in errors[0] and reason in errors[0], errors


def test_filters_reach_the_search(open_app) -> None:
    at = open_app()
    at.text_input(key="filter.folder").set_value("no-such-folder").run()
    _search(at, "a cat")
    assert at.session_state["search.hits"] == []
    assert any("No results" in i.value for i in at.info)
    at.text_input(key="filter.folder").set_value("photos").run()  # options changed: searched again
    assert len(at.session_state["search.hits"]) >= 12
    at.multiselect(key="filter.kind").set_value(["generated"]).run()
    assert all(h.kind == "generated" for h in at.session_state["search.hits"])


def test_details_and_more_like_this(open_app) -> None:
    at = _search(open_app(), "a rocket")
    first = at.session_state["search.hits"][0]
    _open_details(at, first.id)
    panel = "\n".join(m.value for m in at.markdown)
    assert Path(first.path).name in panel and "**Dimensions:**" in panel and "**Size:**" in panel
    at.button(key="details.similar").click().run()
    similar = at.session_state["search.hits"]
    assert similar and first.id not in {h.id for h in similar}
    assert at.session_state["search.request"]["similar"] == first.id
    assert at.session_state["search.selected"] is None
    assert any(f"More like **#{first.id} ·" in m.value for m in at.markdown)  # the seed is shown


def test_reference_checkbox_is_kept_for_generate(open_app) -> None:
    at = _search(open_app(), "a horse")
    hits = at.session_state["search.hits"]
    _open_details(at, hits[1].id).checkbox(key=f"ref.{hits[1].id}").check().run()
    assert set(at.session_state["gen.refs"]) == {hits[1].id}
    at.switch_page("views/generate.py").run()
    assert at.title[0].value == "Generate"
    # the picked reference is the only one shown (other tests may have added generated images to the gallery)
    assert [b.key for b in at.button if b.key.startswith("gen.remove.")] == [f"gen.remove.{hits[1].id}"]
    at.button(key=f"gen.remove.{hits[1].id}").click().run()
    assert at.session_state["gen.refs"] == {}


def test_thumbs_on_a_result_are_stored_replaced_and_withdrawn(open_app, ui_library: Path) -> None:
    at = _search(open_app(), "feedback query")
    hit = at.session_state["search.hits"][0]
    widget = next(f for f in _open_details(at, hit.id).feedback if f.key.endswith(f".{hit.id}."))
    lib = _lib(ui_library)
    try:
        count = len(export_feedback(lib.catalog))
        widget.set_value(1).run()
        rows = export_feedback(lib.catalog)
        assert len(rows) == count + 1
        assert rows[-1].items() >= {"target": "result", "query": "feedback query", "value": 1,
                                    "asset_id": hit.id}.items()
        next(f for f in at.feedback if f.key == widget.key).set_value(0).run()
        rows = export_feedback(lib.catalog)
        assert len(rows) == count + 1 and rows[-1]["value"] == -1
        next(f for f in at.feedback if f.key == widget.key).set_value(None).run()
        assert len(export_feedback(lib.catalog)) == count
    finally:
        lib.close()


# -- duplicates -------------------------------------------------------------------------------------------------


def test_duplicates_page_shows_groups_side_by_side(open_app) -> None:
    at = open_app("duplicates")
    _submit(at, "dup.form")
    groups = at.session_state["dup.groups"]
    names = [{Path(p).name for p in g.paths} for g in groups]
    assert {"coffee.jpg", "coffee-copy.jpg"} in names
    assert any("Group 1" in m.value for m in at.markdown)


# -- ask --------------------------------------------------------------------------------------------------------


def test_ask_empty_question_is_an_error(open_app) -> None:
    at = open_app("ask")
    _submit(at, "ask.form")
    assert any("Type a question" in e for e in _errors(at))


def test_ask_shows_answer_citations_and_images(open_app, ui_library: Path) -> None:
    at = open_app("ask")
    at.text_area(key="ask.question").set_value("How long does a domestic cat sleep?")
    _submit(at, "ask.form")
    answer = at.session_state["ask.answer"]
    assert answer.citations and "cats.md" in answer.citations[0].path
    assert any(f"[{answer.citations[0].number}] cats.md" in e.label for e in at.expander)
    text = "\n".join(m.value for m in at.markdown)
    assert "sixteen hours" in text
    assert any(f.key.startswith("fb.answer.") for f in at.feedback)
    if answer.images:
        assert any(s.value == "Related images" for s in at.subheader)
    next(f for f in at.feedback if f.key.startswith("fb.answer.")).set_value(1).run()
    lib = _lib(ui_library)
    try:
        last = export_feedback(lib.catalog)[-1]
        assert last.items() >= {"target": "answer", "value": 1, "query": "How long does a domestic cat sleep?"}.items()
    finally:
        lib.close()


# -- generate ---------------------------------------------------------------------------------------------------


def _generate_form(at: AppTest, prompt: str, mode: str = "img2img", control: str = "canny") -> AppTest:
    at.selectbox(key="gen.mode").set_value(mode).run()  # the mode enables the settings it uses
    at.text_area(key="gen.prompt").set_value(prompt)
    if not at.selectbox(key="gen.control").disabled:
        at.selectbox(key="gen.control").set_value(control)
    at.number_input(key="gen.steps").set_value(2)
    at.number_input(key="gen.seed").set_value(7)
    if not at.slider(key="gen.strength").disabled:
        at.slider(key="gen.strength").set_value(0.5)
    at.text_input(key="gen.model").set_value("tiny-test")
    at.number_input(key="gen.width").set_value(64)
    at.number_input(key="gen.height").set_value(64)
    return _submit(at, "gen.form")


def test_generate_validates_before_running(open_app) -> None:
    at = open_app("generate")
    _submit(at, "gen.form")
    assert any("Write a **Prompt**" in e for e in _errors(at))
    _generate_form(at, "a red bicycle")  # img2img without references
    assert any("needs a reference" in e and "**Mode**" in e for e in _errors(at))


def test_generate_from_a_picked_reference_stores_outputs_with_provenance(open_app, ui_library: Path) -> None:
    at = _search(open_app(), "a cat")
    ref = at.session_state["search.hits"][0]
    _open_details(at, ref.id).checkbox(key=f"ref.{ref.id}").check().run()
    at.switch_page("views/generate.py").run()
    _generate_form(at, "a cat in watercolor", mode="controlnet", control="canny")
    assert not _errors(at), _errors(at)
    result = at.session_state["gen.result"]
    output = result["outputs"][0]
    assert Path(output["path"]).is_file() and Path(output["path"]).is_relative_to(ui_library)
    assert output["seed"] == 7 and output["refs"][0][1] == ref.path
    assert output["conditions"] and output["conditions"][0][0] == "canny"
    assert any(p.value == 100 for p in at.progress)
    # the output is in the library: its details show the provenance
    at.switch_page("views/search.py").run()
    at.session_state["search.selected"] = output["asset_id"]
    at.run()
    text = "\n".join(m.value for m in at.markdown)
    assert "**Prompt:** a cat in watercolor" in text and "generated" in text


def test_uploaded_reference_goes_under_the_library(open_app, ui_library: Path) -> None:
    at = open_app("generate")
    at.file_uploader(key="gen.upload").upload("red.png", _png(), "image/png").run()
    uploads = at.session_state["gen.uploads"]
    (path,) = uploads
    assert Path(path).parent == ui_library / "uploads" and uploads[path] == "red.png"
    at.file_uploader(key="gen.upload").upload("bad.png", b"nope", "image/png").run()
    assert any("bad.png" in e and "not an image" in e for e in _errors(at))
    assert len(at.session_state["gen.uploads"]) == 1


# -- library ----------------------------------------------------------------------------------------------------


def test_library_page_shows_status_and_skipped_files(open_app) -> None:
    at = open_app("library")
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Images"]) >= 16 and int(metrics["Documents"]) == 2 and int(metrics["Skipped"]) == 1
    text = "\n".join(m.value for m in at.markdown)
    assert "tiny-test" in text and "**Device:** cpu" in text
    assert any(s.value == "Skipped files (1)" for s in at.subheader)


def test_ingest_from_the_server_is_off_without_roots(open_app) -> None:
    at = open_app("library")
    assert not any(b.form_id == "lib.ingest" for b in at.button)
    assert any("serve.ingest_roots" in c.value for c in at.caption)


def _rooted_library(make_library, tmp_path: Path, root: Path) -> Path:
    lib = make_library(tmp_path / "fresh", serve={"ingest_roots": [str(root)]})
    lib.settings.save()  # the app opens it with the same (tiny) model and ingest roots
    lib.close()
    return tmp_path / "fresh"


@pytest.mark.parametrize(("folder", "message"), [
    ("", "Type the path"), ("{root}/no/such/folder", "does not exist"), ("/usr/share/doc", "outside the allowed"),
    ("relative/path", "not an absolute path"), ("{root}/../", "outside the allowed")])
def test_ingest_is_refused_outside_the_roots(open_app, make_library, tmp_path: Path, photos: Path, folder: str,
                                             message: str) -> None:
    at = open_app("library", library=_rooted_library(make_library, tmp_path, photos))
    at.text_input(key="lib.folder").set_value(folder.format(root=photos))
    _submit(at, "lib.ingest")
    assert any(message in e for e in _errors(at)), _errors(at)
    assert "lib.report" not in at.session_state


def test_ingest_a_folder_from_the_page(open_app, make_library, tmp_path: Path, photos: Path) -> None:
    library = _rooted_library(make_library, tmp_path, photos)
    images = sum(1 for p in photos.iterdir() if p.is_file())
    write_documents(photos / "docs")
    at = open_app("library", library=library)
    at.text_input(key="lib.folder").set_value(str(photos))
    _submit(at, "lib.ingest")
    report = at.session_state["lib.report"]
    assert report.added == images + 2 and report.documents == 2
    assert any(s.value.startswith(f"Added {images + 2}") for s in at.success)
    assert any(p.value == 100 for p in at.progress)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == str(images) and metrics["Documents"] == "2"


def test_upload_files_into_the_library_and_ingest_them(open_app, make_library, tmp_path: Path, photos: Path) -> None:
    library = _rooted_library(make_library, tmp_path, photos)
    at = open_app("library", library=library)
    uploader = at.file_uploader(key="lib.upload.0")
    uploader.upload("red.png", _png(), "image/png").upload("notes.md", b"# Notes\n\nA red square.\n", "text/markdown")
    at.run()
    at.button(key="lib.upload.go").click().run()
    assert not at.exception, at.exception
    report = at.session_state["lib.report"]
    assert report.added == 2 and report.documents == 1
    assert (library / "files" / "red.png").is_file() and (library / "files" / "notes.md").is_file()
