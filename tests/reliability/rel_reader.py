"""A reader process for test_readers.py: search in a loop while a writer ingests, and record anomalies.

Every iteration opens the library afresh (``Library(path).search_text(...)``), so it loads whatever index
file the writer last saved, and reads that file directly as well. What counts as an anomaly:

* any exception from opening or searching (an index file that fails its checksum included);
* a hit whose asset id is not in the catalog right after the search, unless the concurrent writer deleted
  it (the ids it deletes are known in advance: the files removed from the folder before it started);
* a hit whose path differs from the catalog's path for that id, or that is not ok there;
* the same asset twice in one result, or fewer than k hits while the catalog holds at least k + (deleted)
  ok pictures;
* an index file that FAISS reads with a count other than its sidecar's (a half-written file).
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

K = 10


def reader_loop(library: Path, queries: list[str], deleted: set[int], stop: Path) -> dict[str, Any]:
    from mmrag.models.clip import OpenClipEmbedder

    clip = OpenClipEmbedder.load("tiny-test", None, "cpu")
    stats: dict[str, Any] = {"searches": 0, "file_reads": 0, "errors": [], "anomalies": [], "short": 0}
    started, number = time.perf_counter(), 0
    while not stop.exists():
        query = queries[number % len(queries)]
        number += 1
        try:
            stats["anomalies"] += _search_once(library, clip, query, deleted)
            stats["searches"] += 1
        except Exception:  # noqa: BLE001 - every failure is what this test looks for
            stats["errors"].append(traceback.format_exc(limit=4)[-1500:])
        stats["errors"] += _read_index_file(library)
        stats["file_reads"] += 1
    stats["seconds"] = time.perf_counter() - started
    stats["errors"] = stats["errors"][:20]
    stats["anomalies"] = stats["anomalies"][:20]
    return stats


def _search_once(library: Path, clip: Any, query: str, deleted: set[int]) -> list[str]:
    from sqlalchemy import func, select

    from mmrag import Library
    from mmrag.catalog import Asset

    with Library(library, clip=clip) as lib:  # the model once per process, the library afresh every time
        with lib.catalog.session() as session:
            ok_before = session.execute(select(func.count()).where(Asset.status == "ok")).scalar_one()
        hits = lib.search_text(query, k=K)
        with lib.catalog.session() as session:
            rows = {a.id: (a.path, a.status) for a in session.execute(
                select(Asset).where(Asset.id.in_([h.id for h in hits]))).scalars()}
    out = []
    for hit in hits:
        row = rows.get(hit.id)
        if row is None and hit.id not in deleted:
            out.append(f"hit {hit.id} ({hit.path}) is not in the catalog and was not deleted by the writer")
        elif row is not None and (row[0] != hit.path or row[1] != "ok"):
            out.append(f"hit {hit.id} says {hit.path!r}, the catalog says {row}")
    if len({h.id for h in hits}) != len(hits):
        out.append(f"duplicate ids in one result: {[h.id for h in hits]}")
    if len(hits) < K and ok_before >= K + len(deleted):
        out.append(f"{len(hits)} hits for k={K} with {ok_before} ok assets in the catalog")
    return out


def _read_index_file(library: Path) -> list[str]:
    """Read the saved image index the way a reader does; a complete file is the only acceptable answer."""
    from mmrag.errors import IndexCorruptError
    from mmrag.index.faiss_index import FaissIndex

    path = library / "index" / "image.faiss"
    if not path.exists():
        return []
    try:
        index, meta = FaissIndex.load(path, use_gpu=False)
    except IndexCorruptError as exc:
        return [f"reading the index file: {exc}"]
    return [] if len(index) == meta["count"] else [f"index holds {len(index)}, sidecar says {meta['count']}"]


QUERIES = ["a red bicycle", "snow on a mountain", "a cup of coffee", "ünïcödé ☃ query", "a cat", "x" * 300]
WRITER_ENV = {"MMRAG_INGEST__SAVE_INDEX_EVERY_S": "0", "MMRAG_INGEST__COMMIT_EVERY": "16",
              "MMRAG_BATCH_SIZE": "16"}


def readers_during_ingest(workdir: Path, *, files: int = 400, added: int = 600, readers: int = 4,
                          seed: int = 7) -> dict[str, Any]:
    """Ingest ``files``, then run one writer (deleting 1 in 8 files, adding ``added``, saving its index after
    every batch) while ``readers`` processes search. Returns the writer's report and each reader's stats."""
    import numpy as np
    from rel_checks import connect
    from rel_child import context, read_result, run_ingest, run_reader
    from rel_corpus import add_file, make_corpus
    from rel_trials import TrialPlan, finish

    library, ctx, stop = workdir / "library", context(), workdir / "stop"
    manifest = make_corpus(workdir / "photos", files, seed=seed)
    assert not finish(ctx, library, manifest, workdir, TrialPlan())["violations"]
    doomed = sorted(manifest.good)[::8]
    with connect(library) as db:
        deleted = [r[0] for r in db.execute(
            f"SELECT id FROM assets WHERE path IN ({','.join('?' * len(doomed))})", doomed).fetchall()]
    for path in doomed:
        Path(path).unlink()
        manifest.good.discard(path)
    before, rng = set(manifest.good), np.random.default_rng(seed)
    for _ in range(added):
        add_file(manifest, rng)
    procs = [ctx.Process(target=run_reader, args=(str(library), QUERIES, deleted, str(stop), {},
                                                   str(workdir / f"reader{i}.log"), str(workdir / f"reader{i}.json")))
             for i in range(readers)]
    for proc in procs:
        proc.start()
    time.sleep(2.0)  # readers are searching before the writer starts
    writer = ctx.Process(target=run_ingest, args=(str(library), [manifest.root.as_posix()], WRITER_ENV,
                                                   str(workdir / "writer.log"), str(workdir / "writer.json")))
    writer.start()
    writer.join(1800)
    stop.touch()
    for proc in procs:
        proc.join(120)
    logs = {f"reader{i}": (workdir / f"reader{i}.log") for i in range(readers)} | {"writer": workdir / "writer.log"}
    return {"library": library, "manifest": manifest, "writer_exitcode": writer.exitcode,
            "report": (read_result(workdir / "writer.json") or {}).get("report"),
            "results": [read_result(workdir / f"reader{i}.json") for i in range(readers)],
            "removed": len(doomed), "added": len(manifest.good - before), "logs": logs}


def summary(run: dict[str, Any]) -> dict[str, Any]:
    results = [r for r in run["results"] if r is not None]
    return {"readers": len(run["results"]), "searches": sum(r["searches"] for r in results),
            "index_file_reads": sum(r["file_reads"] for r in results),
            "reader_failures": sum(len(r["errors"]) for r in results),
            "wrong_hits": sum(len(r["anomalies"]) for r in results),
            "writer_added": (run["report"] or {}).get("added"), "writer_removed": (run["report"] or {}).get("removed")}
