"""Hostile inputs: each one is ingested or recorded with its reason, none stops the run, memory stays bounded."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import is_root
from PIL import Image
from rel_child import read_result
from rel_hostile import ABSENT, UNREADABLE, make_hostile

from mmrag.ingest.scan import scan
from mmrag.settings import IngestSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# Peak RSS of the ingest child (torch + open_clip + the text model + OpenCV/onnxruntime + decoding an 8000x8000
# scan), read from the child's own VmHWM. Without the text-size limit the 50 MB one-line file alone took more than
# 4.7 GB, and minutes. Measured about 2.0 GB, alone or late in the suite (the 2.9-3.4 GB seen in-suite before was
# getrusage inheriting the pytest parent's peak across fork+exec, not the ingest).
PEAK_RSS_LIMIT_MB = 2560


def _unprivileged() -> list[str] | None:
    """A command prefix under which a mode-000 file cannot be read; None when none can be had.

    As root, setpriv drops the two capabilities that let root read any file (the process keeps uid 0, so
    the interpreter under /root stays readable); as any other user, nothing is needed.
    """
    if not is_root():
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    prefix = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:  # e.g. no CAP_SETPCAP
        return None
    return prefix


def _ingest(prefix: list[str], library: Path, inputs: Path, out: Path, tag: str) -> dict:
    """One ingest in a process of its own (started through ``prefix``); returns its result."""
    out.mkdir(exist_ok=True)
    log, result = out / f"{tag}.log", out / f"{tag}.json"
    child = Path(__file__).with_name("rel_child.py")
    done = subprocess.run([*prefix, sys.executable, str(child), str(library), inputs.as_posix(), str(log),
                           str(result)], env={**os.environ, "PYTHONPATH": str(child.parent)}, timeout=540)
    data = read_result(result)
    assert done.returncode == 0 and data is not None, log.read_text(errors="replace")[-3000:]
    return data


def _catalog(library: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(f"file:{library / 'catalog.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT path, status, coalesce(error, '') FROM assets WHERE parent_id IS NULL").fetchall()
    return {path: (status, error) for path, status, error in rows}


def test_hostile_inputs_are_each_reported_or_ingested_in_bounded_memory(tmp_path: Path) -> None:
    inputs, library, out = tmp_path / "inputs", tmp_path / "library", tmp_path / "out"
    expected = make_hostile(inputs)
    prefix = _unprivileged()
    if prefix is None:  # root without setpriv reads mode-000 files: that single case cannot be made here
        expected[(inputs / UNREADABLE).as_posix()] = "ok"
    data = _ingest(prefix or [], library, inputs, out, "first")
    catalog = _catalog(library)
    problems = []
    for path, expect in expected.items():
        status, error = catalog.get(path, (ABSENT, ""))
        if expect == ABSENT:
            problems += [f"{path}: recorded ({status}: {error})"] if status != ABSENT else []
        elif expect == "ok":
            problems += [f"{path}: {status} {error}"] if status != "ok" else []
        elif status != "skipped" or expect not in error:
            problems.append(f"{path}: expected skipped with {expect!r}, got {status} {error!r}")
    problems += [f"unexpected entry {p}: {catalog[p]}" for p in sorted(set(catalog) - set(expected))]
    assert not problems, "\n".join(problems)
    reported = dict((item["path"], item["reason"]) for item in data["report"]["skipped"])
    assert {p: e for p, (s, e) in catalog.items() if s == "skipped"} == reported
    print(f"hostile corpus: {len(expected)} inputs, peak RSS {data['peak_rss_mb']:.0f} MB")
    assert data["peak_rss_mb"] < PEAK_RSS_LIMIT_MB, f"peak RSS {data['peak_rss_mb']:.0f} MB"
    # a second run retries nothing and keeps every reason
    again = _ingest(prefix or [], library, inputs, out, "second")["report"]
    assert again["images_embedded"] == 0 and again["added"] == again["updated"] == 0
    assert dict((item["path"], item["reason"]) for item in again["skipped"]) == reported
    assert _catalog(library) == catalog


def test_file_deleted_between_listing_and_reading_is_not_recorded(photos: Path, make_library) -> None:
    lib = make_library()
    lib.ingest([photos])
    victim_known, victim_new = photos / "coffee.jpg", photos / "new.jpg"
    Image.open(victim_known).rotate(90).save(victim_known)  # changed: it will be read again
    shutil.copy(photos / "moon.jpg", victim_new)
    Image.open(victim_new).rotate(45).save(victim_new)

    def delete_after_planning(done: int, total: int, path: str) -> None:
        if path == "" and victim_new.exists():  # the first call comes after the scan, before any read
            victim_known.unlink()
            victim_new.unlink()

    report = lib.ingest([photos], progress=delete_after_planning)
    reasons = dict(report.skipped)
    for victim in (victim_known, victim_new):
        assert "disappeared before it could be read" in reasons[victim.as_posix()]
    assert report.removed == 1
    paths = {path for path, _ in lib.skipped()} | {h.path for h in lib.search_text("a photo", k=50)}
    assert victim_known.as_posix() not in paths and victim_new.as_posix() not in paths
    assert len(lib.search_text("a photo", k=50)) == 14


def test_entry_that_vanishes_between_listing_and_stat_is_not_recorded(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    found = list(scan([tmp_path], IngestSettings()))
    assert [f.path for f in found] == [(tmp_path / "a.jpg").as_posix()]
    from mmrag.ingest.scan import _found

    assert _found((tmp_path / "gone.jpg").as_posix()) is None
