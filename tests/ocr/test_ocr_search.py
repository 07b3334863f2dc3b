"""OCR at ingest and in search, on a real library with the tiny random CLIP (which has nothing to say, so a
text match must carry the ranking) and the real RapidOCR weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrag.catalog.ocr_text import ocr_text_of
from mmrag.cli import app
from mmrag.retrieval.ocr_search import TextMatch, fuse

from .conftest import sign

PHOTOS = ("chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg", "horse.png")


@pytest.fixture
def text_photos(photos: Path, tmp_path: Path) -> Path:
    """Five real photos, a bakery sign (English), a station sign (Chinese) and a broken file."""
    from PIL import Image

    folder = tmp_path / "text-photos"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copy(photos / name, folder / name)
    sign("Harbour Bakery", background=Image.open(photos / "coffee.jpg")).save(folder / "bakery.jpg")
    sign("火车站出口", chinese=True).save(folder / "station.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def test_ingest_stores_text_boxes_and_fused_search_puts_the_text_match_first(make_library, text_photos: Path):
    lib = make_library(ingest={"ocr": "auto"})
    report = lib.ingest([text_photos])
    assert report.added == 7 and [path for path, _ in report.skipped] == [str(text_photos / "broken.jpg")]

    ids = {Path(a.path).name: a.id for a in _assets(lib)}
    stored = ocr_text_of(lib.catalog, ids["bakery.jpg"])
    assert stored is not None and stored.has_text and "harbour bakery" in _norm(stored.text)
    assert stored.lines[0]["confidence"] > 0.8 and len(stored.lines[0]["box"]) == 4
    assert not ocr_text_of(lib.catalog, ids["chelsea.jpg"]).has_text  # read, and nothing found

    hits = lib.search_text("harbour bakery", k=3)
    assert hits[0].id == ids["bakery.jpg"]
    assert hits[0].extra["match"] == "both" and "harbour bakery" in _norm(hits[0].text)
    assert {h.extra["match"] for h in hits[1:]} == {"clip"} and all(h.text is None for h in hits[1:])

    chinese = lib.search_text("火车站", k=3)
    assert chinese[0].id == ids["station.png"] and "火车站" in chinese[0].text

    only_text = lib.search_text("bakery", k=5, search_in="text")
    assert [h.id for h in only_text] == [ids["bakery.jpg"]] and only_text[0].extra["match"] == "text"
    assert all(h.extra["match"] == "clip" for h in lib.search_text("bakery", k=5, search_in="clip"))


def test_has_text_filter(make_library, text_photos: Path) -> None:
    lib = make_library(ingest={"ocr": "auto"})
    lib.ingest([text_photos])
    with_text = {Path(h.path).name for h in lib.search_text("sign", k=10, filters={"has_text": True})}
    assert with_text == {"bakery.jpg", "station.png"}
    without = {Path(h.path).name for h in lib.search_text("sign", k=10, filters={"has_text": False})}
    assert without == set(PHOTOS)
    with pytest.raises(TypeError, match="filter 'has_text' must be true or false, got 'yes'"):
        lib.search_text("sign", filters={"has_text": "yes"})
    with pytest.raises(ValueError, match="search_in must be one of all, clip, text, got 'ocr'"):
        lib.search_text("sign", search_in="ocr")


def test_changed_and_removed_images_update_the_text_index(make_library, text_photos: Path) -> None:
    lib = make_library(ingest={"ocr": "on"})
    lib.ingest([text_photos])
    assert lib.search_text("bakery", search_in="text")
    sign("Grand Hotel").save(text_photos / "bakery.jpg")  # same name, new content
    lib.ingest([text_photos])
    assert not lib.search_text("bakery", search_in="text")
    assert Path(lib.search_text("grand hotel", search_in="text")[0].path).name == "bakery.jpg"
    (text_photos / "bakery.jpg").unlink()
    lib.ingest([text_photos])
    assert not lib.search_text("grand hotel", search_in="text")


def test_ocr_off_reads_nothing_and_is_the_default(make_library, text_photos: Path) -> None:
    lib = make_library()
    assert lib.settings.ingest.ocr == "off"
    lib.ingest([text_photos])
    assert not lib.search_text("bakery", search_in="text")
    assert all(ocr_text_of(lib.catalog, a.id) is None for a in _assets(lib))


def test_cli_json_carries_match_and_matched_text(text_photos: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "tiny-test")
    monkeypatch.setenv("MMRAG_DEVICE", "cpu")
    monkeypatch.setenv("MMRAG_INGEST__OCR", "auto")
    runner = CliRunner()
    library = ["--library", str(tmp_path / "cli-lib")]
    assert runner.invoke(app, ["ingest", str(text_photos), *library]).exit_code == 0
    result = runner.invoke(app, ["search", "harbour bakery", "--json", "-k", "2", *library])
    assert result.exit_code == 0, result.output
    top = json.loads(result.stdout)[0]
    assert top["path"].endswith("bakery.jpg") and top["extra"]["match"] == "both"
    assert "harbour bakery" in _norm(top["text"]) and top["extra"]["ocr_lines"][0]["box"]
    only = json.loads(runner.invoke(app, ["search", "bakery", "--in", "text", "--json", *library]).stdout)
    assert [Path(h["path"]).name for h in only] == ["bakery.jpg"]
    with_text = json.loads(runner.invoke(app, ["search", "x", "--has-text", "--json", *library]).stdout)
    assert {Path(h["path"]).name for h in with_text} == {"bakery.jpg", "station.png"}
    table = runner.invoke(app, ["search", "harbour bakery", "-k", "1", *library])
    assert "both" in table.stdout and "Harbour" in table.stdout and "Bakery" in table.stdout
    bad = runner.invoke(app, ["search", "x", "--in", "ocr", *library])
    assert bad.exit_code != 0 and "search_in must be one of all, clip, text" in bad.output
    assert "Traceback" not in bad.output


def test_fusion_full_text_match_beats_clip_top_and_partial_match_does_not() -> None:
    full = TextMatch(7, 3.0, 1.0, ())
    assert fuse([1, 2, 3], [full])[0][0] == 7
    partial = TextMatch(7, 1.0, 0.25, ())
    ranking = [item for item, _ in fuse([1, 2, 3], [partial])]
    assert ranking[0] == 1 and 7 in ranking
    both = fuse([1, 7, 3], [TextMatch(7, 2.0, 1.0, ())])
    assert both[0][0] == 7  # CLIP and text agree


def _norm(text: str) -> str:
    """Lower case, lines and spaces as single spaces (a sign may be read as one line or two)."""
    return " ".join(text.lower().split())


def _assets(lib) -> list:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from mmrag.catalog import Asset

    with lib.catalog.session() as session:
        return list(session.execute(select(Asset)).scalars())


def test_run_together_english_words_are_also_indexed_split() -> None:
    from mmrag.index.bm25 import tokenize
    from mmrag.retrieval.ocr_search import searchable_text

    text = searchable_text("theatrespringphoenix\n北京欢迎你")
    assert text.startswith("theatrespringphoenix\n北京欢迎你")  # as read, then the split words
    assert {"theatr", "spring", "phoenix"} <= set(tokenize(text))
    assert searchable_text("Exit only") == "Exit only"
