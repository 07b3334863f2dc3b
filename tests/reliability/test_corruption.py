"""Damaged or foreign derived data never takes searches down: readers build the index in memory from the
catalog's vectors (and say so once), the next writer repairs the file, even with nothing to ingest."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import zlib
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmrag import Library
from mmrag.cli import app
from mmrag.errors import ModelMismatchError, SchemaVersionError
from mmrag.index.files import verify_file

WAY_OUT = ("mmrag rebuild", "mmrag doctor")


def _reopen(lib, make_library) -> Library:
    return make_library(path=lib.path)


def _index(lib) -> Path:
    return lib.path / "index" / "image.faiss"


def _assert_names_way_out(exc: BaseException) -> None:
    assert any(way in str(exc) for way in WAY_OUT), f"the message names no way out: {exc}"


def _damage(index: Path, damage: str) -> None:
    data = index.read_bytes()
    if damage == "truncate":
        index.write_bytes(data[: len(data) // 2])
    elif damage == "flip-bytes":  # same size: only the checksum can tell
        middle = len(data) // 2
        index.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 8]) + data[middle + 8:])
    elif damage == "header-with-matching-crc":  # FAISS header's vector count edited, sidecar checksum redone
        edited = data[:8] + (int.from_bytes(data[8:16], "little") + 3).to_bytes(8, "little") + data[16:]
        index.write_bytes(edited)
        meta = json.loads(index.with_suffix(".json").read_text())
        meta["checksum"] = f"crc32:{zlib.crc32(edited):08x}"
        index.with_suffix(".json").write_text(json.dumps(meta))
    elif damage == "zero-length":
        index.write_bytes(b"")
    elif damage == "delete-file":
        index.unlink()
    elif damage == "garbage-sidecar":
        index.with_suffix(".json").write_text("{not json")
    elif damage == "sidecar-count":
        meta = json.loads(index.with_suffix(".json").read_text())
        meta["count"] += 1
        index.with_suffix(".json").write_text(json.dumps(meta))
    elif damage == "sidecar-model":
        meta = json.loads(index.with_suffix(".json").read_text())
        meta["model"] = "open_clip:ViT-B-32:laion2b_s34b_b79k"
        index.with_suffix(".json").write_text(json.dumps(meta))


DAMAGES = ["truncate", "flip-bytes", "header-with-matching-crc", "zero-length", "delete-file", "garbage-sidecar",
           "sidecar-count", "sidecar-model"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_readers_search_through_a_damaged_index_and_a_no_op_writer_repairs_it(
        ingested, photos: Path, make_library, damage: str, caplog) -> None:
    _damage(_index(ingested), damage)
    reader = _reopen(ingested, make_library)
    with caplog.at_level(logging.WARNING):
        assert len(reader.search_text("a photo", k=20)) == 15
        assert len(reader.search_text("a cat", k=20)) == 15
    said = [r for r in caplog.records if "built in memory" in r.getMessage()]
    assert len(said) == 1 and "image.faiss" in said[0].getMessage(), "say so once"
    report = _reopen(ingested, make_library).ingest([photos])  # nothing to do, but the file gets repaired
    assert (report.unchanged, report.images_embedded) == (15, 0)
    assert verify_file(_index(ingested)) is None
    assert _reopen(ingested, make_library).indexes.get("image") is not None


def test_readers_can_search_after_a_kill_between_index_and_sidecar(ingested, photos: Path, make_library) -> None:
    sidecar = _index(ingested).with_suffix(".json")
    old_sidecar = sidecar.read_bytes()
    (photos / "coffee.jpg").unlink()
    ingested.ingest([photos])
    sidecar.write_bytes(old_sidecar)  # the state a kill between the two renames leaves
    assert len(_reopen(ingested, make_library).search_text("a photo", k=20)) == 14
    report = _reopen(ingested, make_library).ingest([photos])
    assert report.unchanged == 14 and report.images_embedded == 0
    assert verify_file(_index(ingested)) is None


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


@pytest.mark.parametrize("keep_library_id", [True, False])
def test_index_of_another_library_with_the_same_generation_is_detected(photos: Path, tmp_path: Path,
                                                                        make_library, keep_library_id: bool) -> None:
    """Found by the library id in the sidecar, and without it (an older sidecar) by the newest vector rows."""
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
    if not keep_library_id:
        meta = json.loads(_index(mine).with_suffix(".json").read_text())
        del meta["library_id"]
        _index(mine).with_suffix(".json").write_text(json.dumps(meta))
    hits = _reopen(mine, make_library).search_image(photos / "chelsea.jpg", k=1)
    assert hits[0].path == (photos / "chelsea.jpg").as_posix(), "the foreign index answered the search"
    mine.ingest([photos])  # a no-op ingest repairs the file
    assert verify_file(_index(mine), mine.catalog.library_id()) is None
    assert json.loads(_index(mine).with_suffix(".json").read_text())["library_id"] == mine.catalog.library_id()
