"""IVF list codes side by side: float32 (``Flat``), float16 (``SQfp16``, what ``auto`` picks) and ``SQ8``.

One coarse quantizer (spherical k-means on the first 200,000 vectors) shared by the three indexes, so only
the codes differ; single-query search p50 at one FAISS thread and the top-10 agreement with the float32 codes,
over ``--rounds`` alternated rounds. Vectors are bench_search.py's clustered mixture (float32).

    python bench/bench_ivf_codes.py --n 1000000 --nlist 4096 --nprobe 256 --queries 200 --rounds 3
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

CODES = {"Flat": None, "SQfp16": faiss.ScalarQuantizer.QT_fp16, "SQ8": faiss.ScalarQuantizer.QT_8bit}


def build(x: np.ndarray, nlist: int, nprobe: int) -> dict[str, faiss.Index]:
    dim = x.shape[1]
    kmeans = faiss.Kmeans(dim, nlist, niter=10, spherical=True, seed=1)
    kmeans.train(x[:200_000])
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(kmeans.centroids)
    indexes = {}
    for name, code in CODES.items():
        if code is None:
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, code, faiss.METRIC_INNER_PRODUCT)
        index.train(x[:200_000])
        index.add(x)
        index.nprobe = nprobe
        indexes[name] = index
    return indexes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--nlist", type=int, default=4096)
    ap.add_argument("--nprobe", type=int, default=256, help="the default rule: nlist/16")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    x = clustered(args.n, args.dim).astype(np.float32)
    rng = np.random.default_rng(1)
    queries = x[rng.choice(len(x), args.queries, replace=False)] + 0.01 * rng.standard_normal(
        (args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    indexes = build(x, args.nlist, args.nprobe)
    reference = indexes["Flat"].search(queries, 10)[1]
    rounds: dict[str, list[float]] = {name: [] for name in indexes}
    agreement = {}
    for _ in range(args.rounds):
        for name, index in indexes.items():
            times = []
            for i in range(len(queries)):
                started = time.perf_counter()
                index.search(queries[i:i + 1], 10)
                times.append(time.perf_counter() - started)
            rounds[name].append(round(1000 * statistics.median(times), 2))
            ids = index.search(queries, 10)[1]
            overlap = [len(set(a) & set(b)) / 10 for a, b in zip(ids, reference, strict=True)]
            agreement[name] = round(float(np.mean(overlap)), 4)
    print(json.dumps({"n": args.n, "nlist": args.nlist, "nprobe": args.nprobe, "p50_ms_per_round": rounds,
                      "top10_agreement_with_flat": agreement}, indent=1))


if __name__ == "__main__":
    main()
