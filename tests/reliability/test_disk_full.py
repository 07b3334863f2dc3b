"""A full disk stops the run with a clear error, loses nothing, blames no file; a resume completes.

The first test puts the library on a real tmpfs of a few MB (root only) and grows it between runs, so the
disk fills wherever the ingest happens to be writing: a thumbnail, the SQLite WAL, or an index file. The
second injects ENOSPC into the thumbnail and index writes and runs everywhere.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rel_checks import all_violations, catalog_violations
from rel_child import context
from rel_corpus import make_corpus
from rel_disk import fill_cycles
from rel_trials import TrialPlan, finish

from mmrag.errors import LibraryError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SIZES = ("1m", "2m", "3m", "4m", "6m", "8m", "12m", "64m")


def test_library_on_a_full_filesystem(tmp_path: Path, tmpfs: Any) -> None:
    library = tmpfs.mount(SIZES[0]) / "library"
    manifest = make_corpus(tmp_path / "photos", 500, seed=5)
    ctx = context()
    outcome = fill_cycles(ctx, library, manifest, tmp_path, tmpfs, SIZES)
    print(f"disk full {len(outcome['disk_full_failures'])} times ({outcome['disk_full_failures']}); "
          f"the run fit at {outcome['fit_at']}")
    assert not outcome["violations"], "\n".join(outcome["violations"])
    assert outcome["disk_full_failures"], "the first filesystem was large enough: the test did not fill it"
    assert not finish(ctx, library, manifest, tmp_path, TrialPlan())["violations"]
    assert all_violations(library, manifest) == []


def test_injected_enospc_stops_the_run_and_marks_no_file_skipped(photos: Path, make_library,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from mmrag.index import files

    lib = make_library(ingest={"commit_every": 4})
    real_save = Image.Image.save
    written = {"thumbnails": 0}

    def full_after_five(image: Image.Image, fp: Any, *args: Any, **kwargs: Any) -> None:
        if "thumbs" in str(fp):
            written["thumbnails"] += 1
            if written["thumbnails"] > 5:
                raise OSError(errno.ENOSPC, "No space left on device", str(fp))
        real_save(image, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full_after_five)
    with pytest.raises(LibraryError, match="No space left on device"):
        lib.ingest([photos])
    assert lib.skipped() == [] and catalog_violations(lib.path) == []
    monkeypatch.setattr(Image.Image, "save", real_save)

    def no_room(path: Path, write: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(files, "_atomic_write", no_room)
    with pytest.raises(LibraryError, match="cannot save the vector indexes.*safe in the catalog"):
        make_library(path=lib.path).ingest([photos])
    assert lib.skipped() == [] and catalog_violations(lib.path) == []
    monkeypatch.undo()
    report = make_library(path=lib.path).ingest([photos])
    assert report.images_embedded == 0 and not report.skipped  # everything was committed before
    assert len(make_library(path=lib.path).search_text("a photo", k=50)) == 15
