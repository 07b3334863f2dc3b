"""Retrieval ideas for issue 18, each scored on the FAQ sets of bench/rag_eval (tuned on the R FAQ only).

    python bench/rag_eval/build_faq.py                        # once
    python bench/bench_rag_ideas.py [--model all-MiniLM-L6-v2] [--also-model DIR] [--form hard] [--json out.json]

Every idea ranks the same chunks (mmrag's own chunking, what ``heldout.py`` reads) and is scored by
recall@5 / MRR@10 after the one-hit-per-section collapse (what ``search_passages`` returns). Parameters are
swept on ``rfaq`` only; the held-out corpora are scored with the R FAQ's best setting of each idea
(``chosen``), and the full sweep is printed for them only to show how far the choice is from their best.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "rag_eval"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from heldout import (  # noqa: E402
    DEPTH,
    Corpus,
    by_section,
    dense_rank,
    embed_cached,
    load_corpus,
    plain_bm25s_rank,
    rrf,
    score,
)

TUNING = "rfaq"
Ranked = list[list[int]]


# -- BM25 with pseudo-relevance feedback (RM3) ----------------------------------------------------------------


class Bm25Prf:
    """mmrag's BM25 (its tokenizer, bm25s) queried with weighted terms, plus RM3 expansion."""

    def __init__(self, texts: list[str]) -> None:
        from mmrag.index.bm25 import Bm25Index, tokenize

        self.index = Bm25Index.build(np.arange(len(texts)), texts, 0)
        self.docs = [Counter(tokenize(t)) for t in texts]
        self.vocab = self.index.model.vocab_dict
        self._term_scores: dict[str, np.ndarray] = {}

    def term_scores(self, term: str) -> np.ndarray:
        if term not in self._term_scores:
            self._term_scores[term] = np.asarray(self.index.model.get_scores([term]), dtype=np.float32)
        return self._term_scores[term]

    def scores(self, weights: dict[str, float]) -> np.ndarray:
        total = np.zeros(len(self.docs), dtype=np.float32)
        for term, weight in weights.items():
            if term in self.vocab:
                total += weight * self.term_scores(term)
        return total

    def rank(self, question: str, docs: int = 0, terms: int = 0, mix: float = 0.0) -> list[int]:
        from mmrag.index.bm25 import tokenize

        query = Counter(t for t in tokenize(question) if t in self.vocab)
        if not query:
            return []
        weights = {t: c / sum(query.values()) for t, c in query.items()}
        scores = self.scores(weights)
        if docs and terms and mix > 0:
            weights = self.rm3(weights, scores, docs, terms, mix)
            scores = self.scores(weights)
        top = np.argsort(-scores, kind="stable")[:DEPTH]
        return [int(i) for i in top if scores[i] > 0]

    def rm3(self, weights: dict[str, float], scores: np.ndarray, docs: int, terms: int, mix: float
            ) -> dict[str, float]:
        top = np.argsort(-scores, kind="stable")[:docs]
        top = [int(i) for i in top if scores[i] > 0]
        if not top:
            return weights
        relevance = np.asarray([scores[i] for i in top], dtype=np.float64)
        relevance /= relevance.sum()
        feedback: Counter[str] = Counter()
        for doc, rel in zip(top, relevance, strict=True):
            length = sum(self.docs[doc].values()) or 1
            for term, count in self.docs[doc].items():
                feedback[term] += rel * count / length
        best = dict(feedback.most_common(terms))
        norm = sum(best.values()) or 1.0
        merged = {t: (1 - mix) * w for t, w in weights.items()}
        for term, value in best.items():
            merged[term] = merged.get(term, 0.0) + mix * value / norm
        return merged


# -- dense pseudo-relevance feedback (Rocchio) -----------------------------------------------------------------


def dense_prf_scores(vectors: np.ndarray, queries: np.ndarray, docs: int, beta: float) -> np.ndarray:
    """Cosines of the query moved towards the mean of its first ``docs`` chunks (Rocchio)."""
    scores = queries @ vectors.T
    if docs and beta:
        top = np.argsort(-scores, axis=1)[:, :docs]
        moved = queries + beta * vectors[top].mean(axis=1)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        scores = moved @ vectors.T
    return scores


def dense_prf(vectors: np.ndarray, queries: np.ndarray, docs: int, beta: float) -> Ranked:
    scores = dense_prf_scores(vectors, queries, docs, beta)
    return [list(map(int, row)) for row in np.argsort(-scores, axis=1)[:, :DEPTH]]


# -- section aggregation: a section's score from its chunks ----------------------------------------------------


def section_sum(vectors: np.ndarray, queries: np.ndarray, parents: list[int], second: float) -> Ranked:
    """Dense score of a section = best chunk + ``second`` × its second-best chunk (max-sim with support)."""
    scores = queries @ vectors.T
    parent = np.asarray(parents)
    sections = parent.max() + 1
    out = []
    for row in scores:
        order = np.argsort(-row)
        best = np.full(sections, -np.inf)
        runner = np.zeros(sections)
        first_chunk = np.full(sections, -1)
        for i in order:
            p = parent[i]
            if first_chunk[p] < 0:
                first_chunk[p], best[p] = i, row[i]
            elif runner[p] == 0:
                runner[p] = row[i]
        combined = best + second * runner
        ranked_sections = np.argsort(-combined)[:DEPTH]
        out.append([int(first_chunk[s]) for s in ranked_sections])
    return out


# -- fusions ----------------------------------------------------------------------------------------------------


def convex(dense_scores: np.ndarray, bm25: Bm25Prf, questions: list[str], alpha: float,
           prf: tuple[int, int, float] = (0, 0, 0.0)) -> Ranked:
    """mmrag's convex fusion over the full lists: (1-α)·cos/cos_max + α·bm25/bm25_max."""
    from mmrag.index.bm25 import tokenize

    out = []
    for row, question in zip(dense_scores, questions, strict=True):
        query = Counter(t for t in tokenize(question) if t in bm25.vocab)
        b = np.zeros(len(row), dtype=np.float32)
        if query:
            weights = {t: c / sum(query.values()) for t, c in query.items()}
            b = bm25.scores(weights)
            if prf[2] > 0:
                b = bm25.scores(bm25.rm3(weights, b, *prf))
        d = np.maximum(row, 0) / max(row.max(), 1e-9)
        b = b / b.max() if b.max() > 0 else b
        out.append(list(map(int, np.argsort(-((1 - alpha) * d + alpha * b), kind="stable")[:DEPTH])))
    return out


def weighted_rrf(parts: Sequence[Ranked], k: float, weights: Sequence[float]) -> Ranked:
    return rrf(parts, k=k, weights=weights)


# -- the run ------------------------------------------------------------------------------------------------------


def ideas(corpus: Corpus, embedder: Any, second: Any = None) -> dict[str, Callable[[], Ranked]]:
    """Each idea's settings → a ranking function (lazy: only the chosen ones run on held-out corpora)."""
    from mmrag.ingest.documents.chunking import embedding_text

    indexed = [embedding_text(s, t) for s, t in zip(corpus.sections, corpus.texts, strict=True)]
    vectors = embed_cached(embedder, indexed)
    queries = embed_cached(embedder, corpus.questions, is_query=True)
    plain = embed_cached(embedder, corpus.texts)
    bm25 = Bm25Prf(indexed)
    dense_scores = queries @ vectors.T
    cache: dict[str, Ranked] = {}

    def memo(name: str, make: Callable[[], Ranked]) -> Callable[[], Ranked]:
        def run() -> Ranked:
            if name not in cache:
                cache[name] = make()
            return cache[name]
        return run

    dense = memo("dense", lambda: dense_rank(vectors, queries))
    bm = memo("bm25", lambda: [bm25.rank(q) for q in corpus.questions])
    out: dict[str, Callable[[], Ranked]] = {
        "baseline dense": memo("b-dense", lambda: dense_rank(plain, queries)),
        "baseline bm25s": memo("b-bm25s", lambda: plain_bm25s_rank(corpus.texts, corpus.questions)),
        "mmrag dense": dense, "mmrag bm25": bm,
    }
    out["baseline rrf60"] = memo("b-rrf", lambda: rrf([out["baseline dense"](), out["baseline bm25s"]()]))
    for alpha in (0.1, 0.2, 0.3, 0.4):
        out[f"convex a={alpha}"] = memo(f"c{alpha}", lambda a=alpha: convex(dense_scores, bm25, corpus.questions, a))
    for docs in (3, 5, 10):
        for terms in (5, 10, 20):
            for mix in (0.3, 0.5, 0.7):
                key = f"bm25 rm3 d={docs} t={terms} mix={mix}"
                out[key] = memo(key, lambda d=docs, t=terms, m=mix: [bm25.rank(q, d, t, m) for q in corpus.questions])
    for alpha in (0.2, 0.3, 0.4):
        for docs, terms, mix in ((5, 10, 0.5), (10, 10, 0.5), (5, 20, 0.5), (10, 20, 0.3), (3, 10, 0.5)):
            key = f"convex a={alpha} + rm3 d={docs} t={terms} mix={mix}"
            out[key] = memo(key, lambda a=alpha, p=(docs, terms, mix): convex(
                dense_scores, bm25, corpus.questions, a, p))
    for docs in (1, 2, 3, 5, 10):
        for beta in (0.25, 0.5, 1.0):
            key = f"dense prf d={docs} beta={beta}"
            out[key] = memo(key, lambda d=docs, b=beta: dense_prf(vectors, queries, d, b))
    for alpha in (0.2, 0.3):
        for docs, beta in ((1, 0.25), (2, 0.25), (3, 0.25), (3, 0.5), (5, 0.5)):
            for prf in ((0, 0, 0.0), (3, 10, 0.5)):
                key = f"convex a={alpha} over dense prf d={docs} beta={beta}" + (" + rm3" if prf[2] else "")
                out[key] = memo(key, lambda a=alpha, d=docs, b=beta, p=prf: convex(
                    dense_prf_scores(vectors, queries, d, b), bm25, corpus.questions, a, p))
    for weight in (0.25, 0.5, 1.0):
        key = f"dense section best+{weight}*second"
        out[key] = memo(key, lambda s=weight: section_sum(vectors, queries, corpus.parents, s))
    if second is not None:  # two text models on the same chunks: the mean of their cosines
        both = (dense_scores + embed_cached(second, corpus.questions, is_query=True)
                @ embed_cached(second, indexed).T) / 2
        out["ensemble dense"] = memo("ens", lambda: [list(map(int, r)) for r in np.argsort(-both, axis=1)[:, :DEPTH]])
        for alpha in (0.2, 0.3):
            key = f"ensemble convex a={alpha}"
            out[key] = memo(key, lambda a=alpha: convex(both, bm25, corpus.questions, a))
    for k in (5, 10, 30, 60):
        for weight in (0.25, 0.5, 0.75, 1.0):
            key = f"rrf k={k} w_bm25={weight}"
            out[key] = memo(key, lambda k=k, w=weight: weighted_rrf([dense(), bm()], k, (1.0, w)))
    return out


def family(name: str) -> str:
    """Ideas sharing a family are one idea with different settings (the R FAQ picks one per family)."""
    for prefix in ("bm25 rm3", "dense prf", "dense section", "rrf k=", "ensemble convex", "baseline", "mmrag",
                   "ensemble dense"):
        if name.startswith(prefix):
            return prefix if not name.startswith(("baseline", "mmrag", "ensemble dense")) else name
    if "over dense prf" in name:
        return "convex over dense prf" + (" + rm3" if "+ rm3" in name else "")
    if "+ rm3" in name:
        return "convex + rm3"
    return "convex"


def recall_at(corpus: Corpus, ranked: Ranked, depths: Sequence[int] = (1, 5, 10, 20)) -> dict[str, float]:
    """Recall at several depths: what a reranker of the first N candidates could reach at most."""
    from build_faq import is_gold

    first = [next((r for r, i in enumerate(row, 1) if is_gold(corpus.sections[i], gold)), DEPTH + 1)
             for row, gold in zip(ranked, corpus.gold, strict=True)]
    return {f"recall@{n}": round(sum(r <= n for r in first) / len(first), 3) for n in depths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=["rfaq", "perlfaq", "sedfaq", "gitfaq"])
    parser.add_argument("--form", default="hard")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="the text model (it also chunks)")
    parser.add_argument("--also-model", help="a second text model: adds the two models' mean cosine")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    from mmrag.models.sentence import load_sentence_embedder

    torch.set_num_threads(args.threads)
    embedder = load_sentence_embedder(args.model, device="cpu")
    second = load_sentence_embedder(args.also_model, device="cpu") if args.also_model else None
    results: dict[str, Any] = {"model": embedder.fingerprint, "form": args.form}
    chosen: dict[str, str] = {}
    for name in [TUNING, *[c for c in args.corpus if c != TUNING]]:
        started = time.perf_counter()
        corpus = load_corpus(name, args.form, embedder, 200, 30)
        runs = ideas(corpus, embedder, second)
        table = {key: score(corpus, by_section(run(), corpus.parents)) for key, run in runs.items()}
        table["default (convex a=0.3)"] = dict(table["convex a=0.3"])
        if name == TUNING:
            for key, value in table.items():
                best = chosen.get(family(key))
                if best is None or _better(value, table[best]):
                    chosen[family(key)] = key
        table["default (convex a=0.3)"] |= recall_at(corpus, by_section(runs["convex a=0.3"](), corpus.parents))
        results[name] = {"questions": len(corpus.questions), "chunks": len(corpus.texts), "all": table,
                         "chosen": {fam: {"setting": key, **table[key]} for fam, key in chosen.items()},
                         "seconds": round(time.perf_counter() - started, 1)}
        print(name, json.dumps(results[name]["chosen"]), json.dumps(table["default (convex a=0.3)"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


def _better(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["recall@5"], a["mrr@10"]) > (b["recall@5"], b["mrr@10"])


if __name__ == "__main__":
    main()
