"""The catalog file itself: WAL checkpoints, backup and restore, a damaged SQLite file, doctor never deleting
what it cannot rebuild (issue 17, items 1 and 4)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rel_child import CHILD_ENV
from typer.testing import CliRunner

from mmrag.backup import backup_library, restore_library
from mmrag.catalog.db import CatalogCorruptError
from mmrag.cli import app
from mmrag.errors import LibraryError

pytestmark = pytest.mark.integration


def _count(catalog: Path, table: str = "assets") -> int:
    with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def _alone(lib_path: Path, tmp_path: Path) -> Path:
    """A copy of ``catalog.sqlite`` without its -wal/-shm files: what a user who copies that one file gets."""
    target = tmp_path / "copied" / "catalog.sqlite"
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(lib_path / "catalog.sqlite", target)
    return target


def _cli(*args: str) -> tuple[int, str]:
    """Run the CLI in-process; an exception escaping it (a traceback for the user) fails the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"mmrag {' '.join(args)} raised {result.exception!r}: {result.output}")
    return result.exit_code, result.output


# -- item 1: the WAL is checkpointed when a write command ends ------------------------------------------------

def test_the_catalog_file_alone_holds_every_committed_write_after_an_ingest(ingested, tmp_path: Path) -> None:
    copy = _alone(ingested.path, tmp_path)  # the library is still open: its pooled connections hold the WAL
    assert _count(copy) == 15 and _count(copy, "vectors") == 15
    assert os.path.getsize(f"{ingested.path / 'catalog.sqlite'}-wal") == 0, "the WAL was not truncated"


def test_a_cli_ingest_leaves_a_self_contained_catalog_file(photos: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    env = {**os.environ, **CHILD_ENV}
    done = subprocess.run([sys.executable, "-m", "mmrag", "ingest", str(photos), "--library", str(library),
                           "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["added"] == 15
    assert _count(_alone(library, tmp_path)) == 15


# -- item 1: backup and restore -------------------------------------------------------------------------------

def test_backup_and_restore_bring_a_lost_library_back(ingested, photos: Path, tmp_path: Path, make_library) -> None:
    hits_before = [h.path for h in ingested.search_text("a photo", k=5)]
    manifest = backup_library(ingested, tmp_path / "backup")
    assert manifest.counts == {"assets": 15, "chunks": 0, "vectors": 15}
    assert {"catalog.sqlite", "index/image.faiss", "index/image.json", "mmrag.toml"} <= set(manifest.files)
    ingested.close()
    (ingested.path / "catalog.sqlite").write_bytes(b"\0" * 4096)  # the catalog is lost
    for suffix in ("-wal", "-shm"):
        Path(f"{ingested.path / 'catalog.sqlite'}{suffix}").unlink(missing_ok=True)
    with pytest.raises(LibraryError, match="already has a catalog"):
        restore_library(tmp_path / "backup", ingested.path)
    restore_library(tmp_path / "backup", ingested.path, force=True)
    kept = list(ingested.path.glob("catalog.sqlite.before-restore-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"\0" * 4096, "the replaced catalog must be kept"
    reopened = make_library(path=ingested.path)
    assert [h.path for h in reopened.search_text("a photo", k=5)] == hits_before
    assert reopened.ingest([photos]).unchanged == 15


def test_a_damaged_backup_is_refused_before_anything_is_replaced(ingested, tmp_path: Path) -> None:
    backup_library(ingested, tmp_path / "backup")
    index = tmp_path / "backup" / "index" / "image.faiss"
    data = bytearray(index.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index.write_bytes(bytes(data))
    before = (ingested.path / "catalog.sqlite").read_bytes()
    code, output = _cli("restore", str(tmp_path / "backup"), "--library", str(ingested.path), "--force")
    assert code == 1 and "index/image.faiss" in output and "Traceback" not in output
    assert (ingested.path / "catalog.sqlite").read_bytes() == before


def test_backup_cli_refuses_a_folder_that_is_not_empty(ingested, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    code, output = _cli("backup", str(tmp_path / "full"), "--library", str(ingested.path))
    assert code == 1 and "not empty" in output
    code, output = _cli("backup", str(tmp_path / "new"), "--library", str(ingested.path))
    assert code == 0, output
    assert json.loads((tmp_path / "new" / "backup.json").read_text())["counts"]["assets"] == 15


# -- item 1: doctor never deletes what it cannot rebuild -------------------------------------------------------

def test_doctor_fix_on_an_emptied_catalog_keeps_the_index_files(ingested, tmp_path: Path) -> None:
    """The tester's case: the catalog lost its data (WAL deleted), so it holds no vectors; `doctor --fix`
    used to delete both index files, the last copy of the vectors."""
    ingested.close()
    with sqlite3.connect(ingested.path / "catalog.sqlite") as db:
        db.execute("DELETE FROM vectors")
        db.execute("DELETE FROM assets")
    index_bytes = (ingested.path / "index" / "image.faiss").read_bytes()
    code, output = _cli("doctor", "--fix", "--library", str(ingested.path))
    assert "doctor will rebuild the image index" in output, output
    kept = list((ingested.path / "index").glob("image.faiss.orphaned-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == index_bytes
    assert "Traceback" not in output


# -- item 4: a damaged catalog file -----------------------------------------------------------------------------

def _damage_table(catalog: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage (the schema stays readable)."""
    with sqlite3.connect(catalog) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    with open(catalog, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0x5A]) * page_size)


def test_a_malformed_catalog_is_reported_by_every_command_without_a_traceback(ingested, photos: Path) -> None:
    ingested.close()
    _damage_table(ingested.path / "catalog.sqlite", "vectors")
    lib = str(ingested.path)
    must_fail = (["rebuild"], ["doctor"], ["backup", str(ingested.path.parent / "bk")])  # they read every page
    for args in (*must_fail, ["ingest", str(photos)], ["search", "a photo"], ["status"], ["skipped"],
                 ["similar", "1"]):
        code, output = _cli(*args, "--library", lib)
        assert "Traceback" not in output, (args, output)
        if args in must_fail:
            assert code != 0, f"{args} exited 0 on a malformed catalog: {output}"
        if code != 0:  # commands that never read the damaged pages may succeed; the others say what to do
            assert "damaged" in output and "mmrag restore" in output, (args, output)
    code, output = _cli("doctor", "--json", "--library", lib)
    finding = json.loads(output)["findings"][0]
    assert finding["check"] == "catalog" and "doctor --salvage" in finding["remedy"]


def test_a_catalog_that_is_not_a_database_names_both_ways_out(ingested) -> None:
    ingested.close()
    (ingested.path / "catalog.sqlite").write_bytes(b"this is not SQLite" * 500)
    with pytest.raises(CatalogCorruptError, match="mmrag restore") as caught:
        type(ingested)(ingested.path, clip_model="tiny-test")
    assert "doctor --salvage" in str(caught.value)


def test_salvage_rebuilds_a_usable_catalog_and_the_next_ingest_completes_it(ingested, photos: Path,
                                                                            make_library) -> None:
    ingested.close()
    catalog = ingested.path / "catalog.sqlite"
    _damage_table(catalog, "vectors")
    code, output = _cli("doctor", "--salvage", "--fix", "--library", str(ingested.path))
    assert "salvaged" in output and "assets 15" in output, output
    assert list(ingested.path.glob("catalog.sqlite.damaged-*")), "the damaged file must be kept"
    healed = make_library(path=ingested.path)
    report = healed.ingest([photos])  # the vectors were lost: doctor --fix marked the items for re-embedding
    assert report.images_embedded == 15 and report.added == 0
    assert len(healed.search_text("a photo", k=20)) == 15
    code, output = _cli("doctor", "--library", str(ingested.path))
    assert code == 0, output
