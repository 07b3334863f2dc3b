"""Readers during writes: 4 searching processes while an ingest adds, rewrites and deletes files and saves
its index after every batch. No reader may fail, see a deleted-and-unexplained or mismatched hit, or read
a half-written index file (see rel_reader.py for the exact definition)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from rel_checks import all_violations, connect
from rel_child import context, read_result, run_ingest, run_reader
from rel_corpus import add_file, make_corpus
from rel_trials import TrialPlan, finish

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

READERS = 4
QUERIES = ["a red bicycle", "snow on a mountain", "a cup of coffee", "ünïcödé ☃ query", "a cat", "x" * 300]
WRITER_ENV = {"MMRAG_INGEST__SAVE_INDEX_EVERY_S": "0", "MMRAG_INGEST__COMMIT_EVERY": "16",
              "MMRAG_BATCH_SIZE": "16"}


def _ids_of(library: Path, paths: list[str]) -> list[int]:
    with connect(library) as db:
        rows = db.execute(f"SELECT id FROM assets WHERE path IN ({','.join('?' * len(paths))})", paths).fetchall()
    return [r[0] for r in rows]


def test_searches_during_an_ingest_see_only_real_items_and_complete_indexes(tmp_path: Path) -> None:
    library = tmp_path / "library"
    manifest = make_corpus(tmp_path / "photos", 400, seed=7)
    assert not finish(context(), library, manifest, tmp_path, TrialPlan())["violations"]
    rng = np.random.default_rng(7)
    doomed = sorted(manifest.good)[::8]  # the writer will delete these
    deleted = _ids_of(library, doomed)
    for path in doomed:
        Path(path).unlink()
        manifest.good.discard(path)
    for _ in range(600):
        add_file(manifest, rng)

    ctx, stop = context(), tmp_path / "stop"
    readers = [ctx.Process(target=run_reader, args=(str(library), QUERIES, deleted, str(stop), {},
                                                     str(tmp_path / f"reader{i}.log"), str(tmp_path / f"reader{i}.json")))
               for i in range(READERS)]
    for reader in readers:
        reader.start()
    time.sleep(2.0)  # readers are searching before the writer starts
    writer = ctx.Process(target=run_ingest, args=(str(library), [manifest.root.as_posix()], WRITER_ENV,
                                                   str(tmp_path / "writer.log"), str(tmp_path / "writer.json")))
    writer.start()
    writer.join(400)
    stop.touch()
    for reader in readers:
        reader.join(120)
    assert writer.exitcode == 0, (tmp_path / "writer.log").read_text()[-3000:]
    report = read_result(tmp_path / "writer.json")["report"]
    assert report["removed"] == len(doomed) and report["added"] == 600

    results = [read_result(tmp_path / f"reader{i}.json") for i in range(READERS)]
    for i, result in enumerate(results):
        assert result is not None, (tmp_path / f"reader{i}.log").read_text()[-3000:]
        assert not result["errors"], f"reader {i}:\n" + "\n".join(result["errors"])
        assert not result["anomalies"], f"reader {i}:\n" + "\n".join(result["anomalies"])
    searches = sum(r["searches"] for r in results)
    print(f"{READERS} readers: {searches} searches, {sum(r['file_reads'] for r in results)} index file reads "
          f"during an ingest of {report['added']} files ({report['removed']} removed)")
    assert all(r["searches"] >= 5 for r in results), [r["searches"] for r in results]
    assert all_violations(library, manifest) == []
