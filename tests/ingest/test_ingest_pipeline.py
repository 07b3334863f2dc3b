"""Ingest on real files: incremental runs, deletions, copies, bad files, resume after a crash mid-batch."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from mmrag.catalog import IMAGE_SPACE, Asset, Vector
from mmrag.catalog.vectors import vector_ids


def _counts(lib) -> tuple[int, int]:
    with lib.catalog.session() as s:
        assets = s.execute(select(func.count()).where(Asset.status == "ok")).scalar_one()
        vectors = s.execute(select(func.count()).where(Vector.space == IMAGE_SPACE)).scalar_one()
    return assets, vectors


def _assert_consistent(lib) -> None:
    """Every ok image asset has exactly one stored vector and one index entry, and nothing else is there."""
    with lib.catalog.session() as s:
        ok_ids = set(s.execute(select(Asset.id).where(Asset.status == "ok", Asset.kind == "image")).scalars())
        paths = s.execute(select(Asset.path)).scalars().all()
    stored = vector_ids(lib.catalog, IMAGE_SPACE)
    assert len(stored) == len(set(stored.tolist()))
    assert set(stored.tolist()) == ok_ids
    assert len(paths) == len(set(paths))
    indexed = lib.indexes.get(IMAGE_SPACE).ids()
    assert sorted(indexed.tolist()) == sorted(ok_ids)


def test_ingest_adds_every_photo_and_search_finds_itself(photos: Path, make_library) -> None:
    lib = make_library()
    report = lib.ingest([photos])
    files = sorted(photos.iterdir())
    assert report.added == len(files) and not report.skipped and report.images_embedded == len(files)
    _assert_consistent(lib)
    query = photos / "chelsea.jpg"
    hits = lib.search_image(query, k=3)
    assert hits[0].path == query.as_posix()
    assert hits[0].score == pytest.approx(1.0, abs=2e-3)
    assert hits[0].width == 451 and hits[0].height == 300
    thumbs = list((lib.path / "thumbs").rglob("*.jpg"))
    assert len(thumbs) == len(files)


def test_rerun_on_unchanged_folder_does_no_model_work(photos: Path, make_library, tmp_path: Path) -> None:
    make_library().ingest([photos])
    from mmrag import Library

    fresh = Library(tmp_path / "library", clip_model="tiny-test", device="cpu")  # no model injected
    report = fresh.ingest([photos])
    assert report.unchanged == len(list(photos.iterdir()))
    assert report.added == report.updated == report.images_embedded == 0
    assert "clip" not in fresh.__dict__, "an unchanged folder must not load the model"
    fresh.close()


def test_changes_deletions_touches_and_copies(photos: Path, make_library) -> None:
    lib = make_library()
    lib.ingest([photos])
    before_ids = {a: b for a, b in _path_ids(lib).items()}
    # changed content keeps the asset id
    Image.open(photos / "coffee.jpg").rotate(90).save(photos / "coffee.jpg")
    # same bytes, new mtime: no model work
    os.utime(photos / "rocket.jpg", (1_000_000_000, 1_000_000_000))
    (photos / "moon.jpg").unlink()
    shutil.copy(photos / "astronaut.jpg", photos / "astronaut-copy.jpg")
    report = lib.ingest([photos])
    assert (report.updated, report.removed, report.added, report.reused) == (1, 1, 1, 1)
    assert report.images_embedded == 1
    ids = _path_ids(lib)
    assert ids[(photos / "coffee.jpg").as_posix()] == before_ids[(photos / "coffee.jpg").as_posix()]
    assert (photos / "moon.jpg").as_posix() not in ids
    _assert_consistent(lib)
    copy_hits = lib.search_image(photos / "astronaut.jpg", k=2)
    expected = {(photos / "astronaut.jpg").as_posix(), (photos / "astronaut-copy.jpg").as_posix()}
    assert {h.path for h in copy_hits} == expected


def _path_ids(lib) -> dict[str, int]:
    with lib.catalog.session() as s:
        return dict(s.execute(select(Asset.path, Asset.id)).all())


def test_bad_files_are_recorded_and_the_rest_ingests(photos: Path, make_library) -> None:
    (photos / "empty.jpg").write_bytes(b"")
    data = (photos / "astronaut.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (photos / "notes.png").write_text("this is not a picture")
    (photos / "README").write_text("no extension, not an image")
    Image.new("RGB", (2000, 2000), "red").save(photos / "big.png")
    shutil.copy(photos / "chelsea.jpg", photos / "cat-without-extension")
    lib = make_library(ingest={"max_image_pixels": 3_000_000})
    report = lib.ingest([photos])
    reasons = dict(report.skipped)
    p = lambda name: (photos / name).as_posix()  # noqa: E731
    assert "empty file" in reasons[p("empty.jpg")]
    assert "truncated or corrupt" in reasons[p("truncated.jpg")] or "not an image" in reasons[p("truncated.jpg")]
    assert "not an image" in reasons[p("notes.png")]
    assert "unsupported file type" in reasons[p("README")]
    assert "too large" in reasons[p("big.png")]
    assert p("cat-without-extension") not in reasons
    assert report.added >= 15
    assert dict(lib.skipped()) == reasons
    # skipped files keep their reasons on the next run, and are not retried while unchanged
    again = lib.ingest([photos])
    assert dict(again.skipped) == reasons and again.images_embedded == 0
    _assert_consistent(lib)


def test_resume_after_a_crash_mid_batch(photos: Path, make_library, tiny_clip) -> None:
    calls = {"n": 0}
    real = tiny_clip.embed_preprocessed

    class Crash(RuntimeError):
        pass

    def failing(batch):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Crash("power cut")
        return real(batch)

    flaky = type("Flaky", (), {"__getattr__": lambda s, n: getattr(tiny_clip, n),
                               "embed_preprocessed": staticmethod(failing)})()
    lib = make_library(clip=flaky, batch_size=2, ingest={"commit_every": 4}, workers=2)
    with pytest.raises(Crash):
        lib.ingest([photos])
    committed, vectors = _counts(lib)
    assert committed == vectors == 4, "the first batch of 4 was committed, the one in flight was not"
    lib.close()
    lib = make_library(batch_size=2, ingest={"commit_every": 4}, workers=2)  # the next run, a working model
    report = lib.ingest([photos])
    assert report.unchanged == 4 and report.added == len(list(photos.iterdir())) - 4
    _assert_consistent(lib)


def test_hidden_exclude_include_and_symlink_loops(photos: Path, make_library) -> None:
    (photos / ".hidden").mkdir()
    shutil.copy(photos / "coffee.jpg", photos / ".hidden" / "secret.jpg")
    (photos / "raw").mkdir()
    shutil.copy(photos / "coffee.jpg", photos / "raw" / "skip-me.jpg")
    os.symlink(photos, photos / "loop")
    lib = make_library(ingest={"exclude": ["raw"]})
    report = lib.ingest([photos])
    paths = set(_path_ids(lib))
    assert not any("/.hidden/" in p or "/raw/" in p or "/loop/" in p for p in paths)
    assert report.added == 15
    only_png = make_library(path=photos.parent / "lib2", ingest={"include": ["*.png"]})
    assert only_png.ingest([photos]).added == 5


def test_missing_path_is_a_clear_error(make_library, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        make_library().ingest([tmp_path / "does-not-exist"])


def test_remove_and_rebuild_keep_index_and_catalog_in_step(photos: Path, make_library) -> None:
    lib = make_library()
    lib.ingest([photos])
    assert lib.remove([photos / "coffee.jpg", photos / "rocket.jpg"]) == 2
    _assert_consistent(lib)
    info = lib.rebuild("Flat")
    assert info[IMAGE_SPACE]["count"] == 13
    _assert_consistent(lib)
    hits = lib.search_text("a rocket", k=20)
    assert len(hits) == 13 and all("rocket" not in h.path for h in hits)
    assert np.isfinite([h.score for h in hits]).all()
