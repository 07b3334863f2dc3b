"""A killed or interrupted ingest loses nothing and duplicates nothing: stop it at random points, resume.

Seeded: a failure names its trial, and the same seed replays the same stop points (timing aside). The
larger configuration behind docs/reliability.md is ``bench/fault_trials.py``.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from rel_corpus import make_corpus
from rel_trials import TrialPlan, TrialRun, run_trials

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SEED = 20261121


def _run(tmp_path: Path, files: int, plan: TrialPlan) -> TrialRun:
    manifest = make_corpus(tmp_path / "photos", files, seed=plan.seed)
    run = run_trials(tmp_path / "library", manifest, tmp_path, plan)
    print(json.dumps(run.summary()))
    return run


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    run = _run(tmp_path, 2000, TrialPlan(trials=20, seed=SEED, signal=signal.SIGKILL))
    assert not run.violations, "\n".join(run.violations)
    assert run.stopped >= 20
    assert {t["how"] for t in run.trials} == {"commits", "delay"}
    assert run.final["readable"] >= 1900 and run.final["broken"] >= 40


def test_interrupt_exception_at_random_points_cleans_up_and_resumes(tmp_path: Path) -> None:
    """SIGINT raises KeyboardInterrupt wherever the main thread is (inside a transaction, an index save,
    waiting on decode threads): the run must unwind (rollback, thread pool shut down) and exit."""
    run = _run(tmp_path, 500, TrialPlan(trials=6, seed=SEED + 1, signal=signal.SIGINT, child_timeout_s=120))
    assert not run.violations, "\n".join(run.violations)
    assert run.stopped >= 6


def test_a_moved_file_whose_old_path_gets_new_content_keeps_its_own_vector(photos: Path, make_library) -> None:
    """Planned as a copy of a.jpg, z.jpg must not take the vector a.jpg gets in an earlier batch of the run."""
    import shutil

    import numpy as np
    from PIL import Image

    from mmrag.catalog.vectors import load_vectors

    lib = make_library(ingest={"commit_every": 1}, workers=0)
    folder = photos.parent / "moves"
    folder.mkdir()
    shutil.copy(photos / "chelsea.jpg", folder / "a.jpg")
    lib.ingest([folder])
    (folder / "a.jpg").rename(folder / "z.jpg")  # the move ...
    Image.open(photos / "rocket.jpg").save(folder / "a.jpg")  # ... and new content at the old path
    report = lib.ingest([folder])
    assert (report.updated, report.added) == (1, 1)
    hits = {h.path: h for h in lib.search_image(folder / "z.jpg", k=2)}
    assert hits[(folder / "z.jpg").as_posix()].score > 0.999
    ids = {Path(h.path).name: h.id for h in hits.values()}
    _, vectors = load_vectors(lib.catalog, "image", [ids["z.jpg"], ids["a.jpg"]])
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)
