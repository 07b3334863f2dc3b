"""Paths and names (issue 17, items 3, 6, 7 and 8): one row per real file whatever the spelling, symlinks
leaving the ingested folders, a file turned into a FIFO between scan and read, rich markup in names."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmrag.cli import app
from mmrag.ingest.jobs import FileResult
from mmrag.ingest.scan import FoundFile
from mmrag.ingest.writer import upsert_asset

pytestmark = pytest.mark.integration


def _paths(lib) -> list[str]:
    with sqlite3.connect(lib.path / "catalog.sqlite") as db:
        return sorted(row[0] for row in db.execute("SELECT path FROM assets"))


@pytest.fixture
def tree(photos: Path, tmp_path: Path) -> Path:
    """root/A (2 photos), root/B (3 photos), root/link_to_B -> B, root/A/up -> .. (a loop)."""
    root = tmp_path / "root"
    names = sorted(photos.iterdir())
    for folder, picked in (("A", names[:2]), ("B", names[2:5])):
        (root / folder).mkdir(parents=True)
        for path in picked:
            shutil.copy(path, root / folder / path.name)
    (root / "link_to_B").symlink_to(root / "B", target_is_directory=True)
    return root


# -- item 3: one real file, one row -----------------------------------------------------------------------

def test_every_spelling_of_a_folder_reaches_the_same_rows(tree: Path, make_library) -> None:
    lib = make_library()
    lib.ingest([tree / "A" / ".." / "B"])
    lib.ingest([tree / "link_to_B"])
    report = lib.ingest([tree])
    assert (report.added, report.unchanged) == (2, 3)
    paths = _paths(lib)
    assert len(paths) == 5 and all("/link_to_B/" not in p and "/../" not in p for p in paths), paths
    hits = lib.search_text("a photo", k=20)
    assert len(hits) == len({h.path for h in hits}) == 5
    assert lib.remove([tree / "link_to_B"]) == 3, "removing by another spelling removes the same rows"
    assert len(_paths(lib)) == 2


def test_the_catalog_refuses_a_second_spelling_of_a_file(tree: Path, make_library) -> None:
    lib = make_library()
    alias = (tree / "link_to_B" / sorted(os.listdir(tree / "B"))[0]).as_posix()
    result = FileResult(FoundFile(alias, 1, 1.0, "image"), "embed", "0" * 64)
    with lib.catalog.session() as session, pytest.raises(ValueError, match="canonical"):
        upsert_asset(session, result, None, "image")


# -- item 7: symlinks that leave the ingested folders ---------------------------------------------------------

def test_symlinks_leaving_the_ingested_folders_are_skipped_with_the_reason(tree: Path, tmp_path: Path,
                                                                          make_library) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(next((tree / "A").iterdir()), outside / "secret.jpg")
    (tree / "B" / "passwd.txt").symlink_to("/etc/passwd")
    (tree / "B" / "out_dir").symlink_to(outside, target_is_directory=True)
    (tree / "B" / "out.jpg").symlink_to(outside / "secret.jpg")
    lib = make_library()
    report = lib.ingest([tree])
    reasons = dict(report.skipped)
    for name in ("passwd.txt", "out_dir", "out.jpg"):
        reason = reasons.get((tree / "B" / name).as_posix(), "")
        assert "outside the ingested folders" in reason and "follow_symlinks_outside" in reason, (name, reasons)
    assert report.added == 5 and report.documents == 0
    assert all(p.startswith(tree.as_posix() + "/") for p in _paths(lib)), _paths(lib)
    assert all("secret" not in h.path and "out" not in h.path for h in lib.search_text("a photo", k=20))


def test_following_outside_links_can_be_allowed(tree: Path, tmp_path: Path, make_library) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(next((tree / "A").iterdir()), outside / "secret.jpg")
    (tree / "B" / "out_dir").symlink_to(outside, target_is_directory=True)
    lib = make_library(ingest={"follow_symlinks_outside": True})
    report = lib.ingest([tree])
    assert report.added == 6 and (outside / "secret.jpg").as_posix() in _paths(lib)


# -- item 6: a file replaced by a FIFO between the scan and the read ------------------------------------------

FIFO_CHILD = textwrap.dedent("""
    import json, os, sys
    from mmrag.ingest.jobs import document_job, image_job
    from mmrag.ingest.scan import scan
    from mmrag.settings import IngestSettings
    folder = sys.argv[1]
    found = sorted(scan([folder], IngestSettings()), key=lambda f: f.path)
    for f in found:                      # the files become FIFOs after the scan listed them
        os.unlink(f.path)
        os.mkfifo(f.path)
    doc = document_job(found[0], old=None, max_bytes=1 << 20)
    img = image_job(found[1], old=None, by_sha={}, library=folder, preprocess=lambda x: x,
                    max_pixels=10**8, max_bytes=1 << 20, thumb_size=64)
    print(json.dumps([[doc.action, doc.reason], [img.action, img.reason]]))
""")


def test_a_file_replaced_by_a_fifo_after_the_scan_does_not_hang_the_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("some text")
    Image.new("RGB", (8, 8)).save(folder / "b.png")
    try:
        done = subprocess.run([sys.executable, "-c", FIFO_CHILD, str(folder)], capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("reading a FIFO that replaced a scanned file hung")
    assert done.returncode == 0, done.stderr[-2000:]
    for action, reason in json.loads(done.stdout):
        assert action == "skip" and "FIFO" in reason, (action, reason)


# -- item 8: rich markup and emoji codes in names are printed as they are ---------------------------------

def test_markup_in_file_names_is_printed_literally(photos: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "tiny-test")
    monkeypatch.setenv("MMRAG_DEVICE", "cpu")
    folder = tmp_path / "names" / "[bold]pics["  # with the file names below, paths hold "[/]" and ":x:"
    folder.mkdir(parents=True)
    shutil.copy(photos / "coffee.jpg", folder / "]hot coffee :x:.jpg")
    (folder / "]broken :x:.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    library = str(tmp_path / "lib")
    runner = CliRunner(env={"COLUMNS": "400"})
    for args in (["ingest", str(folder)], ["search", "coffee"], ["skipped"]):
        result = runner.invoke(app, [*args, "--library", library])
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.exit_code == 0, (args, result.output)
        assert "❌" not in result.output, (args, result.output)
        if args[0] in ("ingest", "skipped"):
            assert "[bold]pics[/]broken :x:.jpg" in result.output, (args, result.output)
        if args[0] == "search":
            assert "[bold]pics[/]hot coffee :x:.jpg" in result.output, result.output
