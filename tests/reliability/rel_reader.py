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
    from mmrag.ingest.embedders.clip import OpenClipEmbedder

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

    with Library(library) as lib:
        lib.__dict__["clip"] = clip  # the model once per process, the library afresh every time
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
