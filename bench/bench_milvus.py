"""Milvus against FAISS behind mmrag's vector-index seam, on the same vectors, in one run.

One catalog (SQLite) holds N assets with their vectors; each backend builds its index from it with
``IndexSet.rebuild`` (the path ``mmrag rebuild`` takes) and answers the same held-out queries through
``retrieval.search.search_space`` (index search + catalog filter + hydration of the hits: what
``Library.search`` does after encoding the query). Milvus runs as a real server process (``milvus-lite server``,
the same gRPC protocol as a Milvus cluster) on 127.0.0.1. Recall@10 is against exact inner-product search.
A filtered run (a folder holding ~10% of the assets) compares pushing the allowed ids down as ``id in [...]``
with over-fetching unfiltered results and keeping the allowed ones.

Vectors: real all-MiniLM-L6-v2 sentence embeddings when ``--data`` holds bench/bench_index_real.py's
``vectors.npy``, else clustered synthetic ones (reported as such).

    python bench/bench_milvus.py --n 100000 --queries 300 --data /work/bench-data/real
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = "IVF1024,Flat"  # what `auto` picks near 100k vectors; both backends get the same type and nprobe
NPROBE = 32


def load_vectors(data: Path | None, n: int, queries: int) -> tuple[np.ndarray, np.ndarray, str]:
    if data is not None and (data / "vectors.npy").exists():
        x = np.load(data / "vectors.npy", mmap_mode="r")
        rng = np.random.default_rng(0)
        pick = rng.permutation(len(x))[: n + queries]
        x = np.asarray(x[np.sort(pick)], dtype=np.float32)
        return x[:n], x[n:], f"real: {data / 'vectors.npy'} (all-MiniLM-L6-v2, 384-d)"
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_search import clustered

    x = clustered(n + queries, 384, seed=1)
    return x[:n], x[n:], "synthetic clustered (384-d)"


def build_catalog(path: Path, vectors: np.ndarray) -> Any:
    from sqlalchemy import insert

    from mmrag.catalog import IMAGE_SPACE, Asset, Catalog, Vector
    from mmrag.catalog.vectors import pack

    catalog = Catalog(f"sqlite:///{path / 'catalog.sqlite'}")
    now = datetime.now(UTC)
    with catalog.engine.begin() as conn:
        for start in range(0, len(vectors), 20_000):
            stop = min(len(vectors), start + 20_000)
            conn.execute(insert(Asset), [
                {"id": i + 1, "path": f"/data/{i % 10}/item_{i:07d}.jpg", "folder": f"/data/{i % 10}",
                 "kind": "image", "status": "ok", "size": 1000 + i, "mtime": 0.0, "taken_at": now,
                 "created_at": now, "updated_at": now} for i in range(start, stop)])
            conn.execute(insert(Vector), [
                {"space": IMAGE_SPACE, "item_id": i + 1, "model": "bench", "dim": vectors.shape[1],
                 "data": pack(vectors[i])} for i in range(start, stop)])
    catalog.set_meta(f"model:{IMAGE_SPACE}", "bench")
    with catalog.session() as session:
        catalog.bump_generation(session, IMAGE_SPACE)
    return catalog


def start_milvus(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).with_name("milvus-lite")), "server", "--data-dir",
                               str(folder), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    from mmrag.index.milvus_index import connect

    for _ in range(240):
        try:
            connect(uri).list_collections()
            return server, uri
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise SystemExit("milvus-lite server did not start")


def run_backend(catalog: Any, folder: Path, backend: Any, queries: np.ndarray, truth: np.ndarray,
                folder_truth: np.ndarray, filter_ids: int | None = None) -> dict[str, Any]:
    from mmrag.catalog import IMAGE_SPACE
    from mmrag.index import milvus_index
    from mmrag.index.index_set import IndexSet
    from mmrag.retrieval.filters import Filters
    from mmrag.retrieval.search import search_space

    indexes = IndexSet(catalog, folder, spec=SPEC, backend=backend, writable=True)
    started = time.perf_counter()
    index = indexes.rebuild(IMAGE_SPACE)
    indexes.save()
    build_s = time.perf_counter() - started
    index.nprobe = NPROBE
    out: dict[str, Any] = {"build_s": round(build_s, 1)}
    for name, filters, expected in (("all", Filters(), truth), ("folder_10pct", Filters.parse({"folder": "/data/3"}),
                                                                  folder_truth)):
        if filter_ids is not None:
            milvus_index.FILTER_MAX_IDS = filter_ids
        search_space(catalog, indexes, queries[0], 10, filters)  # warm-up
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            hits = search_space(catalog, indexes, q, 10, filters)
            times.append(time.perf_counter() - t)
            found.append([h.id - 1 for h in hits])
        recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, expected, strict=True)])
        ordered = sorted(times)
        out[name] = {"p50_ms": round(1000 * statistics.median(ordered), 2),
                     "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
                     "recall@10": round(float(recall), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data/real"))
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    from mmrag.index.base import FaissBackend
    from mmrag.index.milvus_index import MilvusBackend

    x, queries, source = load_vectors(args.data, args.n, args.queries)
    scores = queries @ x.T
    truth = np.argsort(-scores, axis=1)[:, :10]
    in_folder = np.flatnonzero(np.arange(args.n) % 10 == 3)
    folder_truth = in_folder[np.argsort(-scores[:, in_folder], axis=1)[:, :10]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        catalog = build_catalog(work, x)
        server, uri = start_milvus(work / "milvus")
        try:
            results = {
                "faiss": run_backend(catalog, work / "faiss", FaissBackend(use_gpu=False), queries, truth,
                                     folder_truth),
                "milvus_pushdown": run_backend(catalog, work / "milvus_push", MilvusBackend(uri, "bench"), queries,
                                               truth, folder_truth, filter_ids=1 << 30),
                "milvus_overfetch": run_backend(catalog, work / "milvus_over", MilvusBackend(uri, "bench2"),
                                                queries, truth, folder_truth, filter_ids=0),
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
            catalog.dispose()
    print(json.dumps({"n": args.n, "queries": args.queries, "vectors": source, "spec": SPEC, "nprobe": NPROBE,
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
