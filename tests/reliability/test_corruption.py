"""Damaged or foreign derived data is detected when a library opens or first searches, with the way out."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmrag import Library
from mmrag.cli import app
from mmrag.errors import IndexCorruptError, ModelMismatchError, SchemaVersionError

WAY_OUT = ("mmrag rebuild", "mmrag doctor")


def _reopen(lib, make_library) -> Library:
    return make_library(path=lib.path)


def _index(lib) -> Path:
    return lib.path / "index" / "image.faiss"


def _assert_names_way_out(exc: BaseException) -> None:
    assert any(way in str(exc) for way in WAY_OUT), f"the message names no way out: {exc}"


@pytest.mark.parametrize("damage", ["truncate", "flip-bytes", "zero-length", "delete-file", "garbage-sidecar"])
def test_damaged_index_is_reported_to_readers_and_repaired_by_the_writer(ingested, photos: Path, make_library,
                                                                         damage: str) -> None:
    index = _index(ingested)
    data = index.read_bytes()
    if damage == "truncate":
        index.write_bytes(data[: len(data) // 2])
    elif damage == "flip-bytes":  # same size: only the checksum can tell
        middle = len(data) // 2
        index.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16]) + data[middle + 16:])
    elif damage == "zero-length":
        index.write_bytes(b"")
    elif damage == "delete-file":
        index.unlink()
    else:
        index.with_suffix(".json").write_text("{not json")
    reader = _reopen(ingested, make_library)
    with pytest.raises(IndexCorruptError) as caught:
        reader.search_text("a photo", k=3)
    _assert_names_way_out(caught.value)
    assert "image.faiss" in str(caught.value)
    # the next writer rebuilds the index from the stored vectors instead of failing; then readers work again
    Image.open(photos / "coffee.jpg").rotate(45).save(photos / "new.jpg")
    report = _reopen(ingested, make_library).ingest([photos])
    assert (report.added, report.unchanged) == (1, 15)
    assert len(_reopen(ingested, make_library).search_text("a photo", k=20)) == 16


def test_stale_sidecar_left_by_a_kill_is_repaired_by_the_next_writer_even_with_nothing_to_do(
        ingested, photos: Path, make_library) -> None:
    sidecar = _index(ingested).with_suffix(".json")
    old_sidecar = sidecar.read_bytes()
    (photos / "coffee.jpg").unlink()
    ingested.ingest([photos])  # saves a new index file and then its sidecar
    sidecar.write_bytes(old_sidecar)  # the state a kill between the two renames leaves
    with pytest.raises(IndexCorruptError):
        _reopen(ingested, make_library).search_text("a photo")
    report = _reopen(ingested, make_library).ingest([photos])
    assert report.unchanged == 14 and report.images_embedded == 0
    assert len(_reopen(ingested, make_library).search_text("a photo", k=20)) == 14


@pytest.mark.xfail(strict=True, reason="index/files.py writes the index file and then its sidecar with two "
                   "renames; a kill between them leaves a complete file with the previous sidecar, which "
                   "readers reject (IndexCorruptError) until a writer saves again")
def test_readers_can_search_after_a_kill_between_index_and_sidecar(ingested, photos: Path, make_library) -> None:
    sidecar = _index(ingested).with_suffix(".json")
    old_sidecar = sidecar.read_bytes()
    (photos / "coffee.jpg").unlink()
    ingested.ingest([photos])
    sidecar.write_bytes(old_sidecar)
    assert len(_reopen(ingested, make_library).search_text("a photo", k=20)) == 14


def test_sidecar_count_that_disagrees_with_the_file_is_detected(ingested, make_library) -> None:
    sidecar = _index(ingested).with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta["count"] += 1
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(IndexCorruptError) as caught:
        _reopen(ingested, make_library).search_text("a photo")
    _assert_names_way_out(caught.value)


def test_index_built_from_another_model_is_detected(ingested, make_library) -> None:
    sidecar = _index(ingested).with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta["model"] = "open_clip:ViT-B-32:laion2b_s34b_b79k"
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(IndexCorruptError, match="model") as caught:
        _reopen(ingested, make_library).search_text("a photo")
    _assert_names_way_out(caught.value)


def test_library_made_by_another_embedding_model_refuses_to_open(ingested, monkeypatch) -> None:
    with pytest.raises(ModelMismatchError) as caught:
        Library(ingested.path, clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k")
    assert "tiny-test" in str(caught.value) and "ViT-B-32" in str(caught.value)
    _assert_names_way_out(caught.value)
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "ViT-B-32")
    result = CliRunner().invoke(app, ["search", "a cat", "--library", str(ingested.path)])
    assert result.exit_code == 1 and "mmrag doctor" in result.output and "Traceback" not in result.output


def test_catalog_from_a_newer_mmrag_is_refused(ingested) -> None:
    ingested.close()
    with sqlite3.connect(ingested.path / "catalog.sqlite") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="upgrade mmrag"):
        Library(ingested.path, clip_model="tiny-test")
    result = CliRunner().invoke(app, ["doctor", "--json", "--library", str(ingested.path)])
    assert result.exit_code == 1
    assert "schema version 99" in json.loads(result.stdout)["findings"][0]["message"]


@pytest.mark.xfail(strict=True, reason="index/index_set.py: an index whose sidecar generation equals the "
                   "catalog's is trusted without checking its recorded tail digest, so a foreign or stale "
                   "index (another library; a catalog rolled back by a power cut) is used as it is. "
                   "`mmrag doctor` detects it (test_doctor.py::test_foreign_index_is_detected_and_rebuilt)")
def test_index_of_another_library_with_the_same_generation_is_detected(photos: Path, tmp_path: Path,
                                                                        make_library) -> None:
    mine = make_library(path=tmp_path / "mine")
    mine.ingest([photos])
    other_photos = tmp_path / "other"
    other_photos.mkdir()
    names = sorted(photos.iterdir())
    for i, path in enumerate(names):  # same names and count (same ids, same generation), shifted pictures
        Image.open(names[(i + 1) % len(names)]).convert("RGB").save(other_photos / path.name, "PNG")
    other = make_library(path=tmp_path / "theirs")
    other.ingest([other_photos])
    assert other.catalog.generation("image") == mine.catalog.generation("image")
    for suffix in (".faiss", ".json"):
        shutil.copy(_index(other).with_suffix(suffix), _index(mine).with_suffix(suffix))
    reader = _reopen(mine, make_library)
    try:
        hits = reader.search_image(photos / "chelsea.jpg", k=1)
    except IndexCorruptError as exc:
        _assert_names_way_out(exc)
        return
    assert hits[0].path == (photos / "chelsea.jpg").as_posix(), "the foreign index answered the search"
