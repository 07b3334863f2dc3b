"""IVF list codes side by side: float32 (``Flat``), float16 (``SQfp16``), ``SQ8``, and 4-bit fast-scan PQ with
an exact-ish re-rank of a short list (``PQ<m>x4fs`` + ``Refine(SQfp16)``, the top ``k * k_factor`` candidates
re-scored from float16 copies of the vectors).

One coarse quantizer (spherical k-means on up to 200,000 vectors) shared by every index, so only the codes
differ; single-query search p50 at one FAISS thread and recall@10 against exact inner-product search, over
``--rounds`` alternated rounds; index size (serialized bytes) and build time (train + add, the shared k-means
apart). Vectors are bench_search.py's clustered mixture (float32), or real embeddings with ``--vectors``
(bench_index_real.py's MiniLM set; the last ``--queries`` vectors are held out as queries).

    python bench/bench_ivf_codes.py --n 1000000 --nlist 4096 --nprobe 256 --queries 200 --rounds 3
    python bench/bench_ivf_codes.py --vectors /work/bench-data/real/vectors.npy --nlist 2048 --nprobe 128

``--agreement LIB_A LIB_B``: top-10 agreement of ``Library.search_text`` between two copies of one library
whose indexes differ (e.g. SQfp16 against fast scan + re-rank), over ``--queries`` query texts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import clustered  # noqa: E402

SQ_CODES = {"Flat": None, "SQfp16": faiss.ScalarQuantizer.QT_fp16, "SQ8": faiss.ScalarQuantizer.QT_8bit}
TRAIN_MAX = 200_000
K = 10


def coarse(x: np.ndarray, nlist: int) -> faiss.IndexFlatIP:
    kmeans = faiss.Kmeans(x.shape[1], nlist, niter=10, spherical=True, seed=1)
    kmeans.train(x[:TRAIN_MAX])
    quantizer = faiss.IndexFlatIP(x.shape[1])
    quantizer.add(kmeans.centroids)
    return quantizer


def sq_index(quantizer: faiss.Index, dim: int, nlist: int, code: int | None) -> faiss.Index:
    if code is None:
        return faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    return faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, code, faiss.METRIC_INNER_PRODUCT)


def fastscan_refine(quantizer: faiss.Index, dim: int, nlist: int, m: int) -> faiss.Index:
    """IVF + 4-bit PQ fast scan, its candidates re-scored from a float16 flat copy (FAISS IndexRefine)."""
    base = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, m, 4, faiss.METRIC_INNER_PRODUCT)
    store = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    return faiss.IndexRefine(base, store)


def build(x: np.ndarray, nlist: int, nprobe: int, codes: list[str], pq_ms: list[int]) -> tuple[dict, dict]:
    """Every index over ``x``, sharing one coarse quantizer; returns (indexes, build seconds)."""
    started = time.perf_counter()
    quantizer = coarse(x, nlist)
    seconds = {"coarse k-means (shared)": round(time.perf_counter() - started, 1)}
    makers = {name: (lambda code=code: sq_index(quantizer, x.shape[1], nlist, code)) for name, code in SQ_CODES.items()
              if name in codes}
    makers |= {f"PQ{m}x4fs,Refine(SQfp16)": (lambda m=m: fastscan_refine(quantizer, x.shape[1], nlist, m))
               for m in pq_ms}
    indexes = {}
    for name, make in makers.items():
        started = time.perf_counter()
        index = make()
        index.train(x[:TRAIN_MAX])
        index.add(x)
        faiss.extract_index_ivf(index).nprobe = nprobe
        seconds[name] = round(time.perf_counter() - started, 1)
        indexes[name] = index
        print(f"built {name} in {seconds[name]} s", file=sys.stderr, flush=True)
    return indexes, seconds


def variants(indexes: dict, k_factors: list[int]) -> list[tuple[str, faiss.Index, faiss.SearchParameters | None]]:
    out = []
    for name, index in indexes.items():
        if "Refine" not in name:
            out.append((name, index, None))
            continue
        for kf in k_factors:
            out.append((f"{name} k_factor={kf}", index, faiss.IndexRefineSearchParameters(k_factor=kf)))
    return out


def p50_ms(index: faiss.Index, queries: np.ndarray, params: faiss.SearchParameters | None) -> float:
    times = []
    for i in range(len(queries)):
        started = time.perf_counter()
        index.search(queries[i:i + 1], K, params=params)
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 3)


def recall(index: faiss.Index, queries: np.ndarray, params: faiss.SearchParameters | None,
           truth: np.ndarray) -> float:
    ids = index.search(queries, K, params=params)[1]
    return round(float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, truth, strict=True)])), 4)


def data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    if args.vectors:
        vectors = np.load(args.vectors, mmap_mode="r")
        vectors = np.ascontiguousarray(vectors[: args.limit] if args.limit else vectors, dtype=np.float32)
        return vectors[:-args.queries], vectors[-args.queries:], f"real: {args.vectors}"
    x = clustered(args.n, args.dim).astype(np.float32)
    rng = np.random.default_rng(1)
    queries = x[rng.choice(len(x), args.queries, replace=False)] + 0.01 * rng.standard_normal(
        (args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return x, queries, "synthetic clustered mixture"


def agreement(libraries: list[Path], n_queries: int) -> dict:
    """Top-10 overlap of the same text queries searched in two libraries (same catalog, other index)."""
    from bench_serve import text_queries

    from mmrag import Library

    found = []
    for path in libraries:
        with Library(path) as lib:
            found.append([[hit.id for hit in lib.search_text(text, k=K)] for text in text_queries(n_queries, 0)])
            spec = lib.indexes.status()
        print(json.dumps({"library": str(path), "index": spec}, default=str)[:300], file=sys.stderr)
    overlap = [len(set(a) & set(b)) / K for a, b in zip(*found, strict=True)]
    return {"libraries": [str(p) for p in libraries], "queries": n_queries,
            "top10_agreement": round(float(np.mean(overlap)), 4), "min": min(overlap)}


def saved_indexes(paths: list[Path], n_queries: int, rounds: int, k_factors: list[int]) -> dict:
    """p50 of ``FaissIndex.search`` (k=10, one query, 1 thread) on saved index files, opened as a library
    opens them (memory-mapped), alternated per round; queries are stored vectors plus a little noise."""
    from mmrag.index.faiss_index import FaissIndex

    indexes = {str(p): FaissIndex.load(p, use_gpu=False, mmap=True)[0] for p in paths}
    first = next(iter(indexes.values()))
    for path in paths[1:]:  # each refine index again at every k_factor asked for
        for kf in k_factors if FaissIndex.load(path, use_gpu=False, mmap=True)[0].k_factor else ():
            indexes[f"{path} k_factor={kf}"] = FaissIndex.load(path, use_gpu=False, mmap=True)[0]
            indexes[f"{path} k_factor={kf}"].k_factor = kf
    rng = np.random.default_rng(1)
    picks = rng.choice(first.ids(), n_queries, replace=False)
    q = first.faiss_index.reconstruct_batch(picks) + 0.05 * rng.standard_normal((n_queries, first.dim)).astype(
        np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    times: dict[str, list[float]] = {name: [] for name in indexes}
    for _ in range(rounds):
        for name, index in indexes.items():
            samples = []
            for i in range(n_queries):
                started = time.perf_counter()
                index.search(q[i:i + 1], K)
                samples.append(time.perf_counter() - started)
            times[name].append(round(1000 * statistics.median(samples), 3))
    ids = {name: index.search(q, K).ids for name, index in indexes.items()}
    ref = ids[str(paths[0])]
    return {name: {"spec": indexes[name].spec, "p50_ms_per_round": times[name],
                   "top10_agreement_with_first": round(float(np.mean(
                       [len(set(a) & set(b)) / K for a, b in zip(ids[name], ref, strict=True)])), 4)}
            for name in indexes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--vectors", type=Path, help="real embeddings (.npy, L2-normalised) instead of the mixture")
    ap.add_argument("--limit", type=int, default=0, help="with --vectors: use only the first N")
    ap.add_argument("--nlist", type=int, default=4096)
    ap.add_argument("--nprobe", type=int, default=256, help="the default rule: nlist/16")
    ap.add_argument("--codes", default="SQfp16,SQ8", help="IVF codes without re-rank: any of Flat,SQfp16,SQ8")
    ap.add_argument("--pq-dims", default="8,4", help="fast-scan PQ: dimensions per sub-quantizer (m = dim / this)")
    ap.add_argument("--k-factors", default="4,8,16")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--agreement", type=Path, nargs=2, metavar="LIBRARY", help="compare two libraries instead")
    ap.add_argument("--index-files", type=Path, nargs="+", help="time saved .faiss files (FaissIndex) instead")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    if args.index_files:
        k_factors = [int(k) for k in args.k_factors.split(",")]
        print(json.dumps(saved_indexes(args.index_files, args.queries, args.rounds, k_factors), indent=1))
        return
    if args.agreement:
        print(json.dumps(agreement(args.agreement, args.queries), indent=1))
        return
    x, queries, source = data(args)
    dim = x.shape[1]
    pq_ms = [dim // int(d) for d in args.pq_dims.split(",") if d]
    flat = faiss.IndexFlatIP(dim)
    flat.add(x)
    truth = flat.search(queries, K)[1]
    del flat
    indexes, seconds = build(x, args.nlist, args.nprobe, args.codes.split(","), pq_ms)
    rows = variants(indexes, [int(k) for k in args.k_factors.split(",")])
    times: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    for _ in range(args.rounds):
        for name, index, params in rows:
            times[name].append(p50_ms(index, queries, params))
    result = {"source": source, "n": len(x), "dim": dim, "nlist": args.nlist, "nprobe": args.nprobe,
              "queries": len(queries), "build_s": seconds, "rows": []}
    for name, index, params in rows:
        base = name.split(" k_factor")[0]
        result["rows"].append({"index": f"IVF{args.nlist},{name}", "p50_ms_per_round": times[name],
                               "p50_ms": statistics.median(times[name]),
                               "recall@10": recall(index, queries, params, truth),
                               "size_mb": round(len(faiss.serialize_index(index)) / 1e6, 1),
                               "build_s": seconds[base]})
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
