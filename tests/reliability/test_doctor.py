"""``mmrag doctor``: each check finds its problem on a real library, and ``--fix`` repairs what is safe."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
from filelock import FileLock
from PIL import Image
from rel_checks import catalog_violations, index_file_violations, opened_index_violations
from typer.testing import CliRunner

from mmrag.catalog.vectors import pack
from mmrag.cli import app
from mmrag.doctor import diagnose, fix, open_library


def _doctor(lib):
    return open_library(lib.path, clip_model="tiny-test", device="cpu")


def _sql(lib, statement: str, *args: object) -> None:
    with sqlite3.connect(lib.path / "catalog.sqlite") as db:
        db.execute(statement, args)


def _checks(report) -> set[str]:
    return {f.check for f in report.findings}


def _healthy(lib) -> None:
    assert catalog_violations(lib.path) == []
    assert index_file_violations(lib.path) == [] and opened_index_violations(lib.path) == []


def test_a_healthy_library_has_no_findings(ingested) -> None:
    report = diagnose(_doctor(ingested))
    assert report.ok and report.findings == [], [f.message for f in report.findings]
    assert report.checked["vectors:image"] == 15 and report.checked["schema_version"] >= 1


def test_orphan_and_missing_vectors_are_found_and_fixed(ingested, photos: Path) -> None:
    _sql(ingested, "INSERT INTO vectors (space, item_id, model, dim, data) VALUES ('image', 9999, 'x', 64, ?)",
         pack(np.ones(64, np.float32) / 8))
    _sql(ingested, "DELETE FROM vectors WHERE item_id = (SELECT id FROM assets WHERE path LIKE '%/coffee.jpg')")
    doctor = _doctor(ingested)
    report = diagnose(doctor)
    assert {"orphan-vector", "missing-vector", "model"} <= _checks(report) and not report.ok
    assert report.of("orphan-vector")[0].items == [9999]
    fixed = fix(doctor, report)
    assert any("orphan" in line for line in fixed.fixed) and any("re-embedding" in line for line in fixed.fixed)
    assert _checks(fixed) == {"missing-vector"}, "the vector comes back with the next ingest, not before"
    again = doctor.ingest([photos])  # the marked item is embedded again
    assert again.images_embedded == 1 and again.unchanged == 14
    assert not diagnose(doctor).findings
    _healthy(doctor)


def test_damaged_index_is_rebuilt_from_the_stored_vectors(ingested) -> None:
    index = ingested.path / "index" / "image.faiss"
    index.write_bytes(index.read_bytes()[:-64])
    report = diagnose(_doctor(ingested))
    finding = report.of("index")[0]
    assert finding.severity == "error" and finding.fixable and "mmrag rebuild" in finding.remedy
    fixed = fix(_doctor(ingested), report)
    assert fixed.ok and any("rebuilt the image index from 15" in line for line in fixed.fixed)
    _healthy(ingested)


def test_foreign_index_is_detected_and_rebuilt(ingested, photos: Path, tmp_path: Path, make_library) -> None:
    names = sorted(photos.iterdir())
    other_photos = tmp_path / "other"
    other_photos.mkdir()
    for i, path in enumerate(names):  # same count and names, other pictures: same ids, same generation
        Image.open(names[(i + 1) % len(names)]).convert("RGB").save(other_photos / path.name, "PNG")
    other = make_library(path=tmp_path / "theirs")
    other.ingest([other_photos])
    for suffix in (".faiss", ".json"):
        shutil.copy(other.path / "index" / f"image{suffix}", ingested.path / "index" / f"image{suffix}")
    report = diagnose(_doctor(ingested))
    assert "sampled vectors differ" in report.of("index")[0].message
    assert fix(_doctor(ingested), report).ok
    hits = make_library(path=ingested.path).search_image(photos / "chelsea.jpg", k=1)
    assert hits[0].path == (photos / "chelsea.jpg").as_posix()


def test_index_ahead_of_a_restored_catalog_is_detected(ingested, photos: Path) -> None:
    backup = ingested.path.parent / "backup.sqlite"
    ingested.catalog.dispose()
    shutil.copy(ingested.path / "catalog.sqlite", backup)
    (photos / "coffee.jpg").unlink()
    ingested.ingest([photos])  # index saved at a later generation
    ingested.catalog.dispose()
    shutil.copy(backup, ingested.path / "catalog.sqlite")
    for suffix in ("-wal", "-shm"):
        (ingested.path / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    report = diagnose(_doctor(ingested))
    assert "ahead of the catalog" in report.of("index")[0].message


def test_missing_files_are_pruned_only_when_asked(ingested, photos: Path) -> None:
    (photos / "coffee.jpg").unlink()
    (photos / "rocket.jpg").unlink()
    doctor = _doctor(ingested)
    report = diagnose(doctor)
    missing = report.of("missing-file")[0]
    assert missing.severity == "warning" and sorted(Path(p).name for p in missing.items) == ["coffee.jpg",
                                                                                           "rocket.jpg"]
    assert fix(doctor, report).of("missing-file"), "without --prune-missing the items stay"
    pruned = fix(doctor, diagnose(doctor), prune_missing=True)
    assert not pruned.findings and any("removed 2 items" in line for line in pruned.fixed)
    assert len(doctor.search_text("a photo", k=20)) == 13
    _healthy(doctor)


def test_missing_thumbnails_and_temporary_files_are_fixed(ingested) -> None:
    thumbs = sorted((ingested.path / "thumbs").rglob("*.jpg"))
    thumbs[0].unlink()
    thumbs[1].write_bytes(b"")  # a power cut can leave an empty file behind a rename
    (thumbs[2].parent / ".abc.1234.tmp").write_bytes(b"partial")
    (ingested.path / "index" / ".image.faiss.5678.tmp").write_bytes(b"partial")
    doctor = _doctor(ingested)
    report = diagnose(doctor)
    assert len(report.of("thumbnail")[0].items) == 2 and len(report.of("temp-file")[0].items) == 2
    fixed = fix(doctor, report)
    assert not fixed.findings, [f.message for f in fixed.findings]
    assert all(t.stat().st_size > 0 for t in thumbs[:2])


def test_another_model_is_reported_not_fixed(ingested) -> None:
    doctor = open_library(ingested.path, clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k")
    report = diagnose(doctor)
    finding = report.of("model")[0]
    assert not report.ok and not finding.fixable and "tiny-test" in finding.message


def test_cli_exit_codes_json_and_the_write_lock(ingested, monkeypatch) -> None:
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "tiny-test")
    runner = CliRunner()
    args = ["doctor", "--json", "--library", str(ingested.path)]
    assert json.loads(runner.invoke(app, args).stdout)["ok"] is True
    index = ingested.path / "index" / "image.faiss"
    index.write_bytes(index.read_bytes()[:-64])
    broken = runner.invoke(app, args)
    assert broken.exit_code == 1 and json.loads(broken.stdout)["findings"][0]["check"] == "index"
    with FileLock(str(ingested.path / ".write.lock")):  # another process is writing
        locked = runner.invoke(app, [*args, "--fix"])
        assert locked.exit_code == 1 and "another process is writing" in locked.output
    fixed = runner.invoke(app, [*args, "--fix"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["fixed"]
    human = runner.invoke(app, ["doctor", "--library", str(ingested.path)])
    assert human.exit_code == 0 and "healthy" in human.stdout
