"""`mmrag trash add|list|restore` through typer's runner on a real library: the duplicate found by `mmrag
duplicates` goes to the trash and comes back; refusals are one clean line, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def ingest_roots(monkeypatch: pytest.MonkeyPatch, photos: Path) -> None:
    """The photos' folder is an ingest root: the trash may move files found there."""
    monkeypatch.setenv("MMRAG_SERVE__INGEST_ROOTS", json.dumps([str(photos)]))


def test_trash_a_duplicate_and_restore_it(run, photos: Path) -> None:
    shutil.copy(photos / "coffee.jpg", photos / "coffee-copy.jpg")
    run("ingest", str(photos))
    [group] = [g for g in json.loads(run("duplicates", "--json").stdout)
               if {Path(p).name for p in g["paths"]} == {"coffee.jpg", "coffee-copy.jpg"}]
    others = [i for i in group["ids"] if i != group["best_id"]]

    moved = json.loads(run("trash", "add", *map(str, others), "--keep", str(group["best_id"]), "--json").stdout)
    assert [m["asset_id"] for m in moved] == others and all(Path(m["trash_path"]).is_file() for m in moved)
    assert sum((photos / n).exists() for n in ("coffee.jpg", "coffee-copy.jpg")) == 1
    listing = run("trash", "list").stdout
    assert f"entry {moved[0]['id']:>4}" in listing and "kept #" in listing
    hits = json.loads(run("search", "coffee", "-k", "50", "--json").stdout)
    assert not set(others) & {h["id"] for h in hits}

    restored = run("trash", "restore", str(moved[0]["id"])).stdout
    assert "1 file(s) restored" in restored
    assert (photos / "coffee.jpg").is_file() and (photos / "coffee-copy.jpg").is_file()
    assert run("trash", "list").stdout.strip() == "the trash is empty"
    assert len(json.loads(run("trash", "list", "--all", "--json").stdout)) == 1


def test_trash_refusals_are_clean(run, photos: Path, tmp_path: Path) -> None:
    run("ingest", str(photos))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(photos / "rocket.jpg", outside / "rocket.jpg")
    report = json.loads(run("ingest", str(outside), "--json").stdout)
    assert report["added"] == 1
    hits = json.loads(run("search", "rocket", "-k", "50", "--json").stdout)
    [rocket_id] = [h["id"] for h in hits if h["path"] == (outside / "rocket.jpg").as_posix()]

    refused = run("trash", "add", str(rocket_id), ok=False)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "outside the library folder" in refused.output and (outside / "rocket.jpg").is_file()
    missing = run("trash", "restore", "77", ok=False)
    assert missing.exit_code == 1 and "no trash entry 77" in missing.output
