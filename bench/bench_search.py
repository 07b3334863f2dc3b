"""P3 end to end and P8: ``Library.search_text`` latency over a large synthetic library, and the cold start
of ``mmrag search`` (a new process) to its first result.

Builds a real library: N image assets in the SQLite catalog with clustered 512-d vectors in the ``vectors``
table, indexes built by ``mmrag rebuild`` from them (the auto spec: IVF at this size). Queries go through the
real text encoder (ViT-B-32 architecture, random weights: the timing is the same as with trained ones).
Baseline: the same query vectors scored by a numpy brute force over the float32 matrix (X @ q, argpartition).

    python bench/bench_search.py --n 1000000 --queries 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

MODEL, PRETRAINED = "ViT-B-32", "none"


def clustered(n: int, dim: int, seed: int = 0, clusters: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(0, clusters, stop - start)
        out[start:stop] = centres[labels] + 0.6 * rng.standard_normal((stop - start, dim), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def build_library(path: Path, vectors: np.ndarray) -> None:
    """Write assets and vectors straight into the catalog (bulk inserts), then rebuild the index."""
    from sqlalchemy import insert

    from mmrag import Library
    from mmrag.catalog import IMAGE_SPACE, Asset, Vector
    from mmrag.catalog.vectors import pack
    from mmrag.models.clip import clip_fingerprint

    lib = Library(path, clip_model=MODEL, clip_pretrained=PRETRAINED, device="cpu")
    lib.settings.save()
    now = datetime.now(UTC)
    fingerprint = clip_fingerprint(MODEL, PRETRAINED)
    with lib.catalog.engine.begin() as conn:
        for start in range(0, len(vectors), 50_000):
            stop = min(len(vectors), start + 50_000)
            conn.execute(insert(Asset), [
                {"id": i + 1, "path": f"/photos/{i // 1000:04d}/img_{i:07d}.jpg", "folder": f"/photos/{i // 1000:04d}",
                 "kind": "image", "status": "ok", "size": 100_000 + i, "mtime": 0.0, "width": 640, "height": 480,
                 "taken_at": now, "created_at": now, "updated_at": now}
                for i in range(start, stop)
            ])
            conn.execute(insert(Vector), [
                {"space": IMAGE_SPACE, "item_id": i + 1, "model": fingerprint, "dim": vectors.shape[1],
                 "data": pack(vectors[i])}
                for i in range(start, stop)
            ])
    lib.catalog.set_meta(f"model:{IMAGE_SPACE}", fingerprint)
    with lib.catalog.session() as session:
        lib.catalog.bump_generation(session, IMAGE_SPACE)
    lib.rebuild()
    lib.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(1000 * statistics.median(ordered), 3),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3)}


def end_to_end(path: Path, queries: list[str]) -> dict[str, dict[str, float]]:
    from mmrag import Library

    lib = Library(path)
    lib.search_text(queries[0], k=10)  # warm: model and index loaded
    total, encode, search = [], [], []
    for text in queries:
        t0 = time.perf_counter()
        vector = lib.query_vector(text)
        t1 = time.perf_counter()
        lib.indexes.get("image").search(vector.reshape(1, -1), 10)
        t2 = time.perf_counter()
        lib.search_text(text, k=10)
        t3 = time.perf_counter()
        encode.append(t1 - t0)
        search.append(t2 - t1)
        total.append(t3 - t2)
    lib.close()
    return {"search_text": percentiles(total), "text_encode": percentiles(encode), "index_search": percentiles(search)}


def brute_force(vectors: np.ndarray, query_vectors: np.ndarray) -> dict[str, float]:
    times = []
    for q in query_vectors:
        t0 = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
        times.append(time.perf_counter() - t0)
    return percentiles(times)


def cold_start(path: Path, runs: int) -> dict[str, float]:
    """Wall time of `mmrag search "..." --library PATH --json` in a new process, median of runs."""
    mmrag = Path(sys.executable).with_name("mmrag")
    times = []
    for run in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(mmrag), "search", f"a photo number {run}", "--library", str(path), "--json"],
                       check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        times.append(time.perf_counter() - t0)
    return {"cold_start_median_s": round(statistics.median(times), 2), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--library", type=Path, help="Reuse (or create) the library here.")
    args = parser.parse_args()

    vectors = clustered(args.n, 512)
    folder = args.library or Path(tempfile.mkdtemp(prefix="mmrag-bench-"))
    if not (folder / "catalog.sqlite").exists():
        t0 = time.perf_counter()
        build_library(folder, vectors)
        print(f"built library of {args.n:,} in {time.perf_counter() - t0:.0f}s at {folder}", file=sys.stderr)
    texts = [f"a photo of item {i} in the archive" for i in range(args.queries)]
    result = {"n": args.n, **end_to_end(folder, texts)}
    from mmrag import Library

    lib = Library(folder)
    query_vectors = np.stack([lib.query_vector(t) for t in texts[:50]])
    result["index"] = lib.indexes.status()["image"]
    lib.close()
    result["numpy_brute_force"] = brute_force(vectors, query_vectors)
    result["numpy_over_index_p50"] = round(
        result["numpy_brute_force"]["p50_ms"] / max(result["index_search"]["p50_ms"], 1e-6), 1)
    result.update(cold_start(folder, args.cold_runs))
    json.dump(result, sys.stdout, indent=2, default=str)
    print()


if __name__ == "__main__":
    main()
