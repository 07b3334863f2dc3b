"""Held-out FAQ retrieval evaluation: mmrag's retrieval against plain baselines on the same chunks.

    python bench/rag_eval/build_faq.py                       # once: writes bench/out/faq/<corpus>/{easy,hard}
    python bench/rag_eval/heldout.py [--corpus perlfaq sedfaq gitfaq] [--model all-MiniLM-L6-v2]
                                     [--chunk-size 200 96] [--bm25-tokenizer v1] [--json bench/out/heldout.json]

Documents are read and chunked by mmrag itself (``load_document`` + ``chunk_document`` with the model's word
pieces); chunk vectors are cached under ``$MMRAG_BENCH_CACHE`` (default /work/bench-data/emb), keyed by
model and text, so a second run only ranks. Every configuration is scored on the same questions:

- baselines on the same chunks: ``dense`` (cosine over the chunk text), ``bm25s`` (bm25s defaults:
  its tokenizer and English stop words, k1 1.5, b 0.75), ``rrf60`` (naive RRF, k = 60, of those two);
- ``mmrag``: what ``search_passages`` does (:mod:`mmrag.retrieval.text_search`), plus its parts
  one at a time (``*-sections``: results collapsed to one per section, the section returned as context).

recall@5: the gold section among the first five results; MRR@10. The tuning corpus (rfaq) chose every
parameter; report the others.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from build_faq import OUT, is_gold  # noqa: E402

CACHE = Path(os.environ.get("MMRAG_BENCH_CACHE", "/work/bench-data/emb"))
DEPTH = 100


@dataclass
class Corpus:
    """The chunks of one corpus form, with what each retriever reads."""

    name: str
    form: str
    titles: list[str | None]
    sections: list[str | None]
    texts: list[str]
    parents: list[int]  # chunk → section number (index into the corpus's list of (document, section))
    questions: list[str]
    gold: list[str]


def load_corpus(name: str, form: str, embedder: Any, chunk_size: int, overlap: int) -> Corpus:
    from mmrag.ingest.documents.chunking import chunk_document
    from mmrag.ingest.documents.loaders import load_document

    folder = OUT / name
    titles, sections, texts, parents = [], [], [], []
    keys: dict[tuple[str, str | None], int] = {}
    for path in sorted((folder / form).glob("*.html")):
        document = load_document(path)
        for chunk in chunk_document(document, chunk_size, overlap, embedder.tokenize):
            titles.append(document.title)
            sections.append(chunk.section)
            texts.append(chunk.text)
            parents.append(keys.setdefault((path.name, chunk.section), len(keys)))
    data = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    return Corpus(name, form, titles, sections, texts, parents,
                  [q["q"] for q in data["questions"]], [q["gold"] for q in data["questions"]])


def embed_cached(embedder: Any, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
    digest = hashlib.sha256("\x00".join([embedder.fingerprint, str(is_query), *texts]).encode()).hexdigest()
    path = CACHE / f"{digest[:32]}.npy"
    if path.is_file():
        return np.load(path)
    vectors = embedder.embed_texts(list(texts), is_query=is_query)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


# -- rankers: each returns, per question, chunk indexes best first -------------------------------------------


def dense_rank(chunk_vectors: np.ndarray, query_vectors: np.ndarray) -> list[list[int]]:
    scores = query_vectors @ chunk_vectors.T
    top = np.argsort(-scores, axis=1)[:, :DEPTH]
    return [list(map(int, row)) for row in top]


def plain_bm25s_rank(texts: list[str], questions: list[str]) -> list[list[int]]:
    import bm25s

    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, show_progress=False), show_progress=False)
    results, _ = model.retrieve(bm25s.tokenize(questions, show_progress=False), k=min(DEPTH, len(texts)),
                                show_progress=False, n_threads=1)
    return [list(map(int, row)) for row in results]


def mmrag_bm25_rank(texts: list[str], questions: list[str]) -> list[list[int]]:
    from mmrag.index.bm25 import Bm25Index

    index = Bm25Index.build(np.arange(len(texts)), texts, 0)
    return [list(map(int, index.search(q, DEPTH)[0])) for q in questions]


def rrf(rankings: Sequence[list[list[int]]], k: float = 60, weights: Sequence[float] | None = None) -> list[list[int]]:
    from mmrag.retrieval.fusion import reciprocal_rank_fusion

    return [[i for i, _ in reciprocal_rank_fusion(list(parts), weights, k=k)] for parts in zip(*rankings, strict=True)]


def by_section(ranked: list[list[int]], parents: list[int]) -> list[list[int]]:
    """Collapse each ranking to its first chunk per section (what parent-document retrieval returns)."""
    out = []
    for row in ranked:
        seen: set[int] = set()
        out.append([i for i in row if not (parents[i] in seen or seen.add(parents[i]))])  # type: ignore[func-returns-value]
    return out


def score(corpus: Corpus, ranked: list[list[int]]) -> dict[str, float]:
    """recall@5 and MRR@10; recall@20 too (how far any reranking of the first 20 could go)."""
    first = [next((r for r, i in enumerate(row[:20], 1) if is_gold(corpus.sections[i], gold)), None)
             for row, gold in zip(ranked, corpus.gold, strict=True)]
    return {"recall@5": round(statistics.mean(1.0 if r and r <= 5 else 0.0 for r in first), 3),
            "mrr@10": round(statistics.mean(1.0 / r if r and r <= 10 else 0.0 for r in first), 3),
            "recall@20": round(statistics.mean(1.0 if r else 0.0 for r in first), 3)}


def evaluate(corpus: Corpus, embedder: Any) -> dict[str, dict[str, float]]:
    from mmrag.ingest.documents.chunking import embedding_text

    indexed = [embedding_text(s, t) for s, t in zip(corpus.sections, corpus.texts, strict=True)]
    titled = [f"{title}\n{text}" if title else text for title, text in zip(corpus.titles, indexed, strict=True)]
    queries = embed_cached(embedder, corpus.questions, is_query=True)
    runs: dict[str, list[list[int]]] = {}
    if corpus.form == "hard":  # easy form: only mmrag's own text is embedded (machine time is scarce)
        runs["dense"] = dense_rank(embed_cached(embedder, corpus.texts), queries)
    runs["bm25s"] = plain_bm25s_rank(corpus.texts, corpus.questions)
    if "dense" in runs:
        runs["rrf60"] = rrf([runs["dense"], runs["bm25s"]])
    runs["mmrag-dense(section)"] = dense_rank(embed_cached(embedder, indexed), queries)
    runs["mmrag-bm25(section)"] = mmrag_bm25_rank(indexed, corpus.questions)
    runs["mmrag-bm25(title+section)"] = mmrag_bm25_rank(titled, corpus.questions)
    runs["mmrag-bm25(text)"] = mmrag_bm25_rank(corpus.texts, corpus.questions)
    for name in ("section", "title+section"):
        runs[f"rrf60({name})"] = rrf([runs["mmrag-dense(section)"], runs[f"mmrag-bm25({name})"]])
        runs[f"rrf10({name})"] = rrf([runs["mmrag-dense(section)"], runs[f"mmrag-bm25({name})"]], k=10)
    runs["mmrag-hybrid(convex)"] = mmrag_hybrid(embed_cached(embedder, indexed), queries, indexed, corpus.questions)
    table = {name: score(corpus, ranked) for name, ranked in runs.items()}
    table |= {f"{name}-sections": score(corpus, by_section(ranked, corpus.parents)) for name, ranked in runs.items()}
    baselines = [table[name]["recall@5"] for name in ("dense", "bm25s", "rrf60") if name in table]
    table["summary"] = {"best_baseline": max(baselines, default=0.0),
                        "mmrag": table["mmrag-hybrid(convex)-sections"]["recall@5"]}
    return table


def mmrag_hybrid(vectors: np.ndarray, queries: np.ndarray, texts: list[str], questions: list[str]
                 ) -> list[list[int]]:
    """What search_passages does in hybrid mode: dense and BM25 rankings (100 deep) fused by the default."""
    from mmrag.index.bm25 import Bm25Index
    from mmrag.retrieval.fusion import DEFAULT_FUSION
    from mmrag.retrieval.text_search import Ranking, fuse

    index = Bm25Index.build(np.arange(len(texts)), texts, 0)
    scores = queries @ vectors.T
    out = []
    for row, question in zip(scores, questions, strict=True):
        top = np.argsort(-row)[:DEPTH]
        ids, bm25 = index.search(question, DEPTH)
        rankings = {"dense": Ranking(top.tolist(), row[top].tolist()), "bm25": Ranking(ids.tolist(), bm25.tolist())}
        out.append([i for i, _ in fuse(rankings, DEFAULT_FUSION)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=["rfaq", "perlfaq", "sedfaq", "gitfaq"])
    parser.add_argument("--form", nargs="+", default=["hard", "easy"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a loaded machine)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--chunk-size", nargs="+", type=int, default=[200])
    parser.add_argument("--overlap", type=int, default=30)
    parser.add_argument("--bm25-tokenizer", choices=["current", "v1"], default="current",
                        help="v1: mmrag's BM25 tokenizer before TOKENIZER_VERSION 2 (see bm25_ablation.py)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.bm25_tokenizer == "v1":
        from bm25_ablation import VARIANTS

        import mmrag.index.bm25 as bm25_module

        bm25_module.tokenize = VARIANTS["v1"].tokenizer()  # Bm25Index.build/search look the name up at call time
    import torch

    from mmrag.models.sentence import load_sentence_embedder

    torch.set_num_threads(args.threads)

    embedder = load_sentence_embedder(args.model, device="cpu")
    results: dict[str, Any] = {"model": embedder.fingerprint, "bm25_tokenizer": args.bm25_tokenizer}
    for size in args.chunk_size:
        for form in args.form:
            for name in args.corpus:
                started = time.perf_counter()
                corpus = load_corpus(name, form, embedder, size, min(args.overlap, size // 4))
                table = evaluate(corpus, embedder)
                key = f"{name}/{form}/{size}"
                results[key] = {"chunks": len(corpus.texts), "questions": len(corpus.questions),
                                "seconds": round(time.perf_counter() - started, 1), "runs": table}
                print(key, json.dumps(results[key]), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
