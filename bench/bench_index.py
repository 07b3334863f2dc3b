"""Index search benchmark (P3 latency/recall, P4 memory per vector) on synthetic clustered vectors.

    python bench/bench_index.py --n 1000000 --dim 512 --queries 1000

Vectors come from a two-level Gaussian mixture (n/200 clusters, 8 sub-clusters each, isotropic noise),
L2-normalised. Every index is searched through ``FaissIndex.search`` one query at a time (batch of 1) with
FAISS's default threads; recall@10 is measured against exact inner-product search. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from mmrag.index.faiss_index import FaissIndex
from mmrag.index.spec import choose_nlist, choose_spec, default_nprobe

K = 10


def clustered(n: int, dim: int, seed: int, n_clusters: int) -> np.ndarray:
    """n normalised vectors from a fixed two-level mixture (the mixture is the same for every seed)."""
    centers = np.random.default_rng(12345)
    top = centers.standard_normal((n_clusters, dim), dtype=np.float32)
    sub = 0.7 * centers.standard_normal((n_clusters, 8, dim), dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 65536):
        m = min(65536, n - start)
        a, b = rng.integers(0, n_clusters, m), rng.integers(0, 8, m)
        out[start:start + m] = top[a] + sub[a, b] + rng.standard_normal((m, dim), dtype=np.float32)
    faiss.normalize_L2(out)
    return out


def exact_topk(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    return flat.search(q, k)[1]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth[:len(found)], strict=True)]))


def latencies(search, q: np.ndarray, limit: int) -> tuple[float, float, np.ndarray]:
    """p50/p99 in ms of single-query calls over the first ``limit`` queries; returns all top-k too."""
    times, found = [], []
    for i in range(min(limit, len(q))):
        t = time.perf_counter()
        found.append(search(q[i:i + 1]))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), np.vstack(found)


def numpy_search(x: np.ndarray):
    def search(q: np.ndarray) -> np.ndarray:
        scores = x @ q[0]
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])][None, :]
    return search


def index_row(name: str, index: FaissIndex, times: tuple[float, float], q: np.ndarray, truth: np.ndarray,
              limit: int, folder: Path) -> dict:
    p50, p99, found = latencies(lambda v: index.search(v, K).ids, q, limit)
    path = folder / "bench.faiss"
    t = time.perf_counter()
    index.save(path, generation=0)
    save_s = time.perf_counter() - t
    t = time.perf_counter()
    FaissIndex.load(path, use_gpu=False)
    load_s = time.perf_counter() - t
    n = len(index)
    row = {"index": name, "n": n, "train_s": round(times[0], 1), "add_s": round(times[1], 1),
           "p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "recall@10": round(recall(found, truth), 4),
           "mem_B_per_vec": round(index.memory_bytes() / n, 1),
           "file_B_per_vec": round(path.stat().st_size / n, 1), "save_s": round(save_s, 2),
           "load_s": round(load_s, 2)}
    path.unlink()
    path.with_suffix(".json").unlink()
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def build(spec: str, x: np.ndarray, train_n: int,
          centroids: np.ndarray | None = None) -> tuple[FaissIndex, tuple[float, float]]:
    """Train (on a seeded sample; ``centroids`` skips the coarse k-means) and add in batches of 100k."""
    t = time.perf_counter()
    index = FaissIndex.create(x.shape[1], spec, use_gpu=False)
    if centroids is not None:
        faiss.extract_index_ivf(index.faiss_index).quantizer.add(centroids)
    if not index.is_trained:
        rng = np.random.default_rng(0)
        index.train(x[np.sort(rng.choice(len(x), min(train_n, len(x)), replace=False))])
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    for start in range(0, len(x), 100_000):
        index.add(np.arange(start, min(start + 100_000, len(x))), x[start:start + 100_000])
    return index, (train_s, time.perf_counter() - t)


def coarse_centroids(index: FaissIndex) -> np.ndarray:
    quantizer = faiss.extract_index_ivf(index.faiss_index).quantizer
    return quantizer.reconstruct_n(0, quantizer.ntotal)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--slow-queries", type=int, default=100, help="queries timed for Flat and numpy")
    ap.add_argument("--nlists", default="", help="comma list of IVF nlist (default: auto and auto/4)")
    ap.add_argument("--nprobes", default="8,16,32,64")
    ap.add_argument("--parts", default="numpy,flat,ivf,hnsw", help="what to run (comma list)")
    ap.add_argument("--skip-hnsw", action="store_true")
    ap.add_argument("--hnsw-n", type=int, default=200_000, help="HNSW32 is built on the first N vectors")
    ap.add_argument("--threads", type=int, help="faiss.omp_set_num_threads (default: FAISS's own default)")
    ap.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    if args.threads:
        faiss.omp_set_num_threads(args.threads)

    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, auto spec "
          f"{choose_spec(args.n, args.dim)}", file=sys.stderr)
    clusters = max(8, args.n // 200)
    x = clustered(args.n, args.dim, 0, clusters)
    q = clustered(args.queries, args.dim, 1, clusters)
    truth = exact_topk(x, q, K) if {"numpy", "flat", "ivf"} & set(args.parts.split(",")) else None
    rows: list[dict] = []
    folder = Path(tempfile.mkdtemp(prefix="bench_index_"))

    parts = set(args.parts.split(","))
    if args.skip_hnsw:
        parts.discard("hnsw")
    if "numpy" in parts:
        rows.append(numpy_row(x, q, truth, args.slow_queries))
    if "flat" in parts:
        flat, secs = build("Flat", x, 0)
        rows.append(index_row("Flat", flat, secs, q, truth, args.slow_queries, folder))
        del flat
        gc.collect()
    if "ivf" in parts:
        rows += ivf_rows(args, x, q, truth, folder)
    if "hnsw" in parts:
        n_h = min(args.hnsw_n, args.n)
        truth_h = exact_topk(x[:n_h], q, K)
        if n_h != args.n and "numpy" in parts:
            rows.append(numpy_row(x[:n_h], q, truth_h, args.slow_queries))
        index, secs = build("HNSW32", x[:n_h], 0)
        for ef in (64, 128):
            index.ef_search = ef
            rows.append(index_row(f"HNSW32 efSearch={ef}", index, secs, q, truth_h, args.queries, folder))
        del index

    folder.rmdir()
    print(markdown(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


def numpy_row(x: np.ndarray, q: np.ndarray, truth: np.ndarray, limit: int) -> dict:
    p50, p99, found = latencies(numpy_search(x), q, limit)
    row = {"index": "numpy brute force (X @ q, argpartition)", "n": len(x), "train_s": 0.0, "add_s": 0.0,
           "p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "recall@10": round(recall(found, truth), 4),
           "mem_B_per_vec": x.shape[1] * 4}
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def ivf_rows(args: argparse.Namespace, x: np.ndarray, q: np.ndarray, truth: np.ndarray, folder: Path) -> list:
    """IVF-Flat at a couple of nlist/nprobe settings, then SQ8 and PQ64 codes on the first nlist."""
    rows: list[dict] = []
    auto = choose_nlist(args.n)
    nlists = [int(v) for v in args.nlists.split(",") if v] or [auto, max(1, auto // 4)]
    nprobes = [int(v) for v in args.nprobes.split(",") if v]
    centroids: np.ndarray | None = None
    for codes in ("Flat", "SQ8", "PQ64"):
        for nlist in nlists if codes == "Flat" else nlists[:1]:
            shared = centroids if codes != "Flat" else None
            index, secs = build(f"IVF{nlist},{codes}", x, 64 * nlist, shared)
            if codes == "Flat" and nlist == nlists[0]:
                centroids = coarse_centroids(index)
            for nprobe in sorted(set(nprobes + [default_nprobe(nlist)])):
                if nprobe <= nlist and (codes == "Flat" or nprobe in (16, default_nprobe(nlist))):
                    index.nprobe = nprobe
                    label = f"IVF{nlist},{codes} nprobe={nprobe}"
                    label += " (coarse k-means reused)" if shared is not None else ""
                    rows.append(index_row(label, index, secs, q, truth, args.queries, folder))
            del index
            gc.collect()

    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a table; the speed-up is against numpy brute force over the same n."""
    baseline = {r["n"]: r["p50_ms"] for r in rows if r["index"].startswith("numpy")}
    head = ("| index | n | train s | add s | p50 ms | p99 ms | speed-up vs numpy p50 | recall@10 "
            "| B/vector (estimate) | B/vector (file) | save s | load s |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        ratio = f"{baseline[r['n']] / r['p50_ms']:.1f}x" if r["n"] in baseline else "-"
        lines.append(
            f"| {r['index']} | {r['n']:,} | {r['train_s']} | {r['add_s']} | {r['p50_ms']} | {r['p99_ms']} | "
            f"{ratio} | {r['recall@10']} | {r['mem_B_per_vec']} | "
            f"{r.get('file_B_per_vec', '-')} | {r.get('save_s', '-')} | {r.get('load_s', '-')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
