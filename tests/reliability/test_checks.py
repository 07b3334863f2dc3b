"""The invariant checks of the trials can fail: each one flags the damage it exists to catch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rel_checks import all_violations, catalog_violations, index_file_state, manifest_violations
from rel_corpus import Manifest


def _manifest(photos: Path) -> Manifest:
    return Manifest(photos, good={p.as_posix() for p in photos.iterdir()})


def _sql(lib, statement: str) -> None:
    with sqlite3.connect(lib.path / "catalog.sqlite") as db:
        db.execute(statement)


def test_a_healthy_library_passes(ingested, photos: Path) -> None:
    assert all_violations(ingested.path, _manifest(photos)) == []


def test_a_lost_vector_and_a_lost_item_are_caught(ingested, photos: Path) -> None:
    _sql(ingested, "DELETE FROM vectors WHERE item_id = (SELECT min(id) FROM assets)")
    assert any("have no vector" in v for v in catalog_violations(ingested.path))
    _sql(ingested, "DELETE FROM assets WHERE id = (SELECT max(id) FROM assets)")
    assert any("image vectors have no ok asset" in v for v in catalog_violations(ingested.path))
    assert any("not ok in the catalog" in v for v in manifest_violations(ingested.path, _manifest(photos)))


def test_a_stray_entry_and_a_reasonless_skip_are_caught(ingested, photos: Path) -> None:
    manifest = _manifest(photos)
    stray = sorted(manifest.good)[0]
    manifest.good.discard(stray)
    manifest.broken[stray] = "empty file"  # the check expects a skip record with this reason
    assert any("lack their skip reason" in v for v in manifest_violations(ingested.path, manifest))
    _sql(ingested, f"UPDATE assets SET status = 'skipped', error = NULL WHERE path = '{stray}'")
    assert any("have no reason" in v for v in catalog_violations(ingested.path))
    del manifest.broken[stray]
    assert any("not in the folder" in v for v in manifest_violations(ingested.path, manifest))


def test_a_missing_file_and_a_missing_thumbnail_are_caught(ingested, photos: Path) -> None:
    (photos / "coffee.jpg").unlink()
    thumbs = list((ingested.path / "thumbs").rglob("*.jpg"))
    thumbs[0].unlink()
    problems = manifest_violations(ingested.path, Manifest(photos, good={p.as_posix() for p in photos.iterdir()}))
    assert any("not in the folder" in v for v in problems)
    assert any("point at missing files" in v for v in problems)
    assert any("no thumbnail" in v for v in problems)


def test_index_damage_is_told_apart_from_a_stale_sidecar(ingested) -> None:
    index = ingested.path / "index" / "image.faiss"
    sidecar = index.with_suffix(".json")
    old_sidecar = sidecar.read_bytes()
    ingested.remove([ingested.get_asset(1).path])  # saves a smaller index and a new sidecar
    assert index_file_state(ingested.path) == "ok"
    sidecar.write_bytes(old_sidecar)  # what a kill between the two renames leaves
    assert index_file_state(ingested.path) == "stale-sidecar"
    index.write_bytes(index.read_bytes()[:-100])
    assert index_file_state(ingested.path).startswith("damaged")
