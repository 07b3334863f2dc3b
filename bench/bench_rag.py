"""Documents and RAG benchmarks (issue 3).

    python bench/bench_rag.py quality [--corpus html pdf] [--json out.json]
        R FAQ retrieval evaluation (bench/rag_eval/r_faq_questions.json): recall@5 and MRR@10 of dense, BM25
        and hybrid retrieval, split by question style, an RRF sweep, and the extractive answerer's checks.
    python bench/bench_rag.py latency [--chunks 100000] [--runs 5] [--keep DIR]
        P6: retrieval latency over a synthetic library of N chunks (query encode + search + catalog fetch):
        wall-time p50/p95 and CPU-time p50 per query, medians over runs; the question encoded by torch and by
        the library's ONNX export side by side (--runtime), runs alternated.

Both build real libraries (``mmrag.Library``, tiny-test CLIP; all-MiniLM-L6-v2 text model) in a temp folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "rag_eval"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evalset import CORPORA, STYLES, Question, is_gold, load  # noqa: E402

DEPTH = 100
SWEEP_K = (5, 10, 20, 30, 60)
SWEEP_BM25_WEIGHT = (0.5, 0.75, 1.0, 1.5)
SWEEP_ALPHA = (0.1, 0.2, 0.3, 0.4, 0.5)


def open_library(root: Path) -> Any:
    from mmrag import Library

    return Library(root, clip_model="tiny-test", device="cpu")


# -- quality ------------------------------------------------------------------------------------------------


def metrics(rankings: Sequence[Sequence[str | None]], questions: Sequence[Question]) -> dict[str, float]:
    """recall@5 (a gold passage in the top 5) and MRR@10 over ranked section lists."""
    recall, reciprocal = [], []
    for sections, question in zip(rankings, questions, strict=True):
        ranks = [rank for rank, section in enumerate(sections[:10], 1) if is_gold(section, question)]
        recall.append(1.0 if ranks and ranks[0] <= 5 else 0.0)
        reciprocal.append(1.0 / ranks[0] if ranks else 0.0)
    return {"recall@5": round(statistics.mean(recall), 3), "mrr@10": round(statistics.mean(reciprocal), 3)}


def rank_all(lib: Any, questions: Sequence[Question]) -> tuple[list[Any], list[Any], float]:
    """Each question's dense and BM25 rankings (chunk ids and scores), DEPTH deep."""
    from mmrag.retrieval.text_search import bm25_ranking, dense_ranking

    dense, bm25 = [], []
    started = time.perf_counter()
    for question in questions:
        dense.append(dense_ranking(lib.components, question.text, DEPTH, None))
        bm25.append(bm25_ranking(lib.components, question.text, DEPTH, None))
    return dense, bm25, time.perf_counter() - started


def chunk_sections(lib: Any) -> dict[int, str | None]:
    from sqlalchemy import select

    from mmrag.catalog.models import Chunk

    with lib.catalog.session() as session:
        return dict(session.execute(select(Chunk.id, Chunk.section)).all())


def evaluate(lib: Any, questions: list[Question]) -> dict[str, Any]:
    from mmrag.retrieval import fusion
    from mmrag.retrieval.text_search import fuse

    sections = chunk_sections(lib)
    dense, bm25, seconds = rank_all(lib, questions)

    def score(ranked: list[list[int]], subset: Callable[[Question], bool] = lambda q: True) -> dict[str, float]:
        pairs = [(r, q) for r, q in zip(ranked, questions, strict=True) if subset(q)]
        return metrics([[sections.get(i) for i in r] for r, _ in pairs], [q for _, q in pairs])

    def hybrid(method: str, weight: float | None = None) -> list[list[int]]:
        return [[i for i, _ in fuse({"dense": d, "bm25": b}, method, weight)] for d, b in zip(dense, bm25, strict=True)]

    def rrf(k: float, weights: tuple[float, float]) -> list[list[int]]:
        return [[i for i, _ in fusion.reciprocal_rank_fusion([d.ids, b.ids], weights, k=k)]
                for d, b in zip(dense, bm25, strict=True)]

    runs = {"dense": [d.ids for d in dense], "bm25": [b.ids for b in bm25],
            "hybrid (convex, default)": hybrid("convex"), "hybrid (rrf, tuned)": hybrid("rrf"),
            "hybrid (naive rrf k=60, 1:1)": rrf(60, (1.0, 1.0))}
    table = {}
    for name, ranked in runs.items():
        table[name] = {"all": score(ranked)}
        for style in STYLES:
            table[name][style] = score(ranked, lambda q, style=style: q.style == style)
    sweep = {f"rrf k={k} w_bm25={w}": score(rrf(k, (1.0, w))) for k in SWEEP_K for w in SWEEP_BM25_WEIGHT}
    sweep |= {f"convex alpha={a}": score(hybrid("convex", a)) for a in SWEEP_ALPHA}
    return {"questions": len(questions), "retrieval": table, "sweep": sweep,
            "ms_per_question_both_retrievers": round(1000 * seconds / len(questions), 1)}


def answer_checks(lib: Any, questions: list[Question], unanswerable: list[str]) -> dict[str, Any]:
    """Extractive answerer: is the first citation a gold passage; is off-topic refused; relevance spread."""
    from mmrag.retrieval.answerers.extractive import MIN_RELEVANCE, ExtractiveAnswerer
    from mmrag.retrieval.text_search import search_passages

    answerer = ExtractiveAnswerer(lib.text_embedder)
    first_gold, refused_answerable, best_cos_answerable, cited, cited_gold = 0, 0, [], 0, 0
    refused_styles: dict[str, int] = {}
    for question in questions:
        passages = search_passages(lib.components, question.text, lib.settings.rag.top_k, mode="hybrid")
        answer = answerer.answer(question.text, passages)
        best_cos_answerable.append(_best_cosine(lib, question.text, passages))
        if not answer.answered:
            refused_answerable += 1
            refused_styles[question.style] = refused_styles.get(question.style, 0) + 1
        first_gold += bool(answer.citations) and is_gold(answer.citations[0].section, question)
        cited += len(answer.citations)
        cited_gold += sum(is_gold(c.section, question) for c in answer.citations)
    refused, best_cos_offtopic = 0, []
    for text in unanswerable:
        passages = search_passages(lib.components, text, lib.settings.rag.top_k, mode="hybrid")
        refused += not answerer.answer(text, passages).answered
        best_cos_offtopic.append(_best_cosine(lib, text, passages))
    return {"threshold": MIN_RELEVANCE,
            "first_citation_gold": f"{first_gold}/{len(questions)}",
            "citations_gold": f"{cited_gold}/{cited}",
            "answerable_refused": f"{refused_answerable}/{len(questions)} {refused_styles}",
            "offtopic_refused": f"{refused}/{len(unanswerable)}",
            "best_passage_cosine_answerable": _spread(best_cos_answerable),
            "best_passage_cosine_offtopic": _spread(best_cos_offtopic)}


def _best_cosine(lib: Any, question: str, passages: list[Any]) -> float:
    from mmrag.ingest.documents.chunking import embedding_text

    if not passages:
        return 0.0
    embedder = lib.text_embedder
    query = embedder.embed_texts([question], is_query=True)[0]
    return float((embedder.embed_texts([embedding_text(p.section, p.text) for p in passages]) @ query).max())


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"min": round(ordered[0], 3), "p10": round(ordered[len(ordered) // 10], 3),
            "median": round(statistics.median(ordered), 3), "max": round(ordered[-1], 3)}


def quality(corpora: list[str], out: Path | None) -> dict[str, Any]:
    questions, unanswerable = load()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mmrag-bench-rag-") as temp:
        for name in corpora:
            source = CORPORA[name]
            if not source.is_file():
                raise SystemExit(f"{source} missing: apt-get install r-doc-html r-doc-pdf")
            folder = Path(temp) / f"docs-{name}"
            folder.mkdir()
            shutil.copy(source, folder / source.name)
            lib = open_library(Path(temp) / f"lib-{name}")
            started = time.perf_counter()
            report = lib.ingest([folder])
            ingest_s = time.perf_counter() - started
            result = evaluate(lib, questions)
            result["answers"] = answer_checks(lib, questions, unanswerable)
            result["ingest_s"] = round(ingest_s, 1)
            result["chunks"] = len(chunk_sections(lib))
            result["ingest_report"] = str(report)
            results[name] = result
            print(json.dumps({name: result}, indent=1, ensure_ascii=False), flush=True)
            lib.close()
    if out:
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    return results


# -- latency (P6) ---------------------------------------------------------------------------------------------


def synthetic_library(root: Path, chunks: int, per_document: int = 100, seed: int = 0) -> Any:
    """A library with ``chunks`` passages whose words follow the R manuals' word frequencies; random unit
    vectors stand in for embeddings (latency does not depend on what the vectors mean)."""
    import numpy as np

    from mmrag.catalog.models import TEXT_SPACE, Asset, Chunk
    from mmrag.catalog.vectors import put_vectors

    lib = open_library(root)
    rng = np.random.default_rng(seed)
    vocabulary, weights = _vocabulary()
    words = np.asarray(vocabulary, dtype=object)
    dim, fingerprint = lib.text_embedder.dim, lib.text_embedder.fingerprint
    batch_docs = 10
    for first_doc in range(0, chunks // per_document, batch_docs):
        docs = range(first_doc, min(first_doc + batch_docs, chunks // per_document))
        lengths = rng.integers(80, 160, size=len(docs) * per_document)
        drawn = words[rng.choice(len(words), size=int(lengths.sum()), p=weights)]
        texts = [" ".join(part) for part in np.split(drawn, np.cumsum(lengths)[:-1])]
        with lib.catalog.session() as session:
            assets = [Asset(path=f"/synthetic/doc{doc:06d}.txt", folder="/synthetic", kind="document", size=1)
                      for doc in docs]
            session.add_all(assets)
            session.flush()
            rows = [Chunk(asset_id=asset.id, ordinal=ordinal, text=texts[n * per_document + ordinal],
                          section=f"Section {ordinal // 10}", char_end=1)
                    for n, asset in enumerate(assets) for ordinal in range(per_document)]
            session.add_all(rows)
            session.flush()
            vectors = rng.standard_normal((len(rows), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            put_vectors(session, lib.catalog, TEXT_SPACE, [r.id for r in rows], vectors, model=fingerprint)
    lib.catalog.set_meta(f"model:{TEXT_SPACE}", fingerprint)
    return lib


def _vocabulary() -> tuple[list[str], Any]:
    from collections import Counter

    import numpy as np

    from mmrag.ingest.documents.loaders import load_document

    counts: Counter[str] = Counter()
    for path in sorted(CORPORA["html"].parent.glob("R-*.html")):
        counts.update(word for word in load_document(path).text.lower().split() if word.isalpha())
    words, freq = zip(*counts.most_common(20_000), strict=True)
    weights = np.asarray(freq, dtype=np.float64)
    return list(words), weights / weights.sum()


class PrecomputedQueries:
    """Stands in for the text model with the vectors it already produced, to time retrieval alone."""

    def __init__(self, embedder: Any, questions: list[str]) -> None:
        self.name, self.dim, self.max_seq_length = embedder.name, embedder.dim, embedder.max_seq_length
        self.fingerprint = embedder.fingerprint
        self._vectors = dict(zip(questions, embedder.embed_texts(questions, is_query=True), strict=True))

    def embed_texts(self, texts: Sequence[str], *, is_query: bool = False) -> Any:
        import numpy as np

        return np.stack([self._vectors[t] for t in texts])


def _one_run(call: Callable[[str], Any], questions: list[str]) -> tuple[float, float, float]:
    """One pass over the questions: per-query wall p50, p95 and CPU-time p50, in ms."""
    times, cpu = [], []
    for question in questions:
        started, started_cpu = time.perf_counter(), time.process_time()
        call(question)
        times.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.process_time() - started_cpu))
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.median(cpu)


def _summary(passes: list[tuple[float, float, float]]) -> dict[str, Any]:
    """Median over runs of the per-query p50 and p95 wall time, in ms, with each run's p50; and the
    median over runs of the per-query p50 of this process's CPU time (``cpu_p50_ms``): on a machine whose
    cores other jobs share, wall time measures the queue for a core, CPU time the work a query needs
    (one thread: on an idle core the two agree)."""
    p50s, p95s, cpu_p50s = zip(*passes, strict=True)
    return {"p50_ms": round(statistics.median(p50s), 1), "p95_ms": round(statistics.median(p95s), 1),
            "run_p50s_ms": [round(x, 1) for x in p50s], "cpu_p50_ms": round(statistics.median(cpu_p50s), 1)}


def _timed(call: Callable[[str], Any], questions: list[str], runs: int) -> dict[str, Any]:
    return _summary([_one_run(call, questions) for _ in range(runs)])


def _interleaved(calls: dict[str, Callable[[str], Any]], questions: list[str], runs: int) -> dict[str, Any]:
    """``_timed`` of each call, their runs alternated (torch, onnx, torch, ...) so both see the same machine."""
    passes: dict[str, list[tuple[float, float, float]]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            passes[name].append(_one_run(call, questions))
    return {name: _summary(done) for name, done in passes.items()}


def text_models(root: Path, runtimes: Sequence[str], threads: int) -> dict[str, Any]:
    """The library's text model on each runtime (torch: sentence-transformers; onnx: the library's export,
    written first when missing)."""
    from mmrag.models.sentence import DEFAULT_MODEL
    from mmrag.models.sentence_runtime import OnnxQuestionText, load_text_model, write_export

    def load(runtime: str) -> Any:
        return load_text_model(DEFAULT_MODEL, "cpu", library=root, text_runtime=runtime, threads=threads)

    models = {}
    for runtime in runtimes:
        model = load(runtime)
        if runtime == "onnx" and not isinstance(model, OnnxQuestionText):
            started = time.perf_counter()
            write_export(model, root, None)
            print(f"ONNX export written in {time.perf_counter() - started:.1f} s", flush=True)
            model = load(runtime)
        models[runtime] = model
    return models


def latency(chunks: int, runs: int, queries: int, keep: Path | None = None,
            runtimes: Sequence[str] = ("torch", "onnx"), threads: int = 0) -> dict[str, Any]:
    """P6 over a synthetic library; ``keep``: build it there once and reuse it on later runs. Query encoding and
    each retrieval mode are timed with the text model on each of ``runtimes``, their runs alternated."""
    from mmrag.components import Components
    from mmrag.retrieval.text_search import search_passages

    questions = [q.text for q in load()[0]][:queries]
    with tempfile.TemporaryDirectory(prefix="mmrag-bench-p6-") as temp:
        started = time.perf_counter()
        root = keep or Path(temp) / "lib"
        lib = open_library(root) if (root / "built").is_file() else synthetic_library(root, chunks)
        (root / "built").touch()
        build = {"catalog_s": round(time.perf_counter() - started, 1)}
        started = time.perf_counter()
        index = lib.indexes.get("text")
        build["faiss_open_s"] = round(time.perf_counter() - started, 1)
        build["faiss_spec"] = getattr(index, "spec", "?")
        started = time.perf_counter()
        lib.components.bm25.get()
        build["bm25_build_s"] = round(time.perf_counter() - started, 1)
        models = text_models(root, runtimes, threads)
        parts = {name: Components(lib.settings, catalog=lib.catalog, indexes=lib.indexes, text_embedder=model)
                 for name, model in models.items()}
        for part in parts.values():
            part.bm25.get()
        results: dict[str, Any] = {"chunks": chunks, "queries": len(questions), "runs": runs, "build": build,
                                   "torch_threads": _torch_threads(), "runtimes": list(runtimes)}
        results["query_encode"] = _interleaved(
            {name: lambda q, m=model: m.embed_texts([q], is_query=True) for name, model in models.items()},
            questions, runs)
        print("query_encode", results["query_encode"], flush=True)
        for mode in ("dense", "bm25", "hybrid"):
            results[mode] = _interleaved(
                {name: lambda q, mode=mode, part=part: _must(search_passages(part, q, 10, mode=mode))
                 for name, part in parts.items()}, questions, runs)
            print(mode, results[mode], flush=True)
        precomputed = Components(lib.settings, catalog=lib.catalog, indexes=lib.indexes,
                                 text_embedder=PrecomputedQueries(next(iter(models.values())), questions))
        for mode in ("dense", "hybrid"):
            name = f"{mode}_without_encode"
            results[name] = _timed(lambda q, mode=mode: _must(search_passages(precomputed, q, 10, mode=mode)),
                                   questions, runs)
            print(name, results[name], flush=True)
        lib.settings.rag.sections = False  # the one-hit-per-section step's cost, side by side
        results["hybrid_without_encode_no_sections"] = _timed(
            lambda q: _must(search_passages(precomputed, q, 10, mode="hybrid")), questions, runs)
        print("hybrid_without_encode_no_sections", results["hybrid_without_encode_no_sections"], flush=True)
        lib.close()
    results["load_average"] = [round(x, 1) for x in os.getloadavg()]
    return results


def _must(hits: list[Any]) -> list[Any]:
    if not hits:
        raise AssertionError("a benchmark query found nothing")
    return hits


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--corpus", nargs="+", choices=sorted(CORPORA), default=["html", "pdf"])
    q.add_argument("--json", type=Path)
    q.add_argument("--bm25-tokenizer", choices=["current", "v1"], default="current",
                   help="v1: mmrag's BM25 tokenizer before TOKENIZER_VERSION 2 (bench/rag_eval/bm25_ablation.py)")
    lat = sub.add_parser("latency")
    lat.add_argument("--chunks", type=int, default=100_000)
    lat.add_argument("--runs", type=int, default=5)
    lat.add_argument("--queries", type=int, default=50)
    lat.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    lat.add_argument("--json", type=Path)
    lat.add_argument("--keep", type=Path, help="build the library in this folder once, reuse it after")
    lat.add_argument("--runtime", nargs="+", choices=["torch", "onnx"], default=["torch", "onnx"],
                     help="text model runtimes to time side by side (runs alternated)")
    args = parser.parse_args()
    if args.command == "quality":
        if args.bm25_tokenizer == "v1":
            from bm25_ablation import VARIANTS

            import mmrag.index.bm25 as bm25_module

            bm25_module.tokenize = VARIANTS["v1"].tokenizer()  # looked up at call time by Bm25Index
        quality(args.corpus, args.json)
    else:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        result = latency(args.chunks, args.runs, args.queries, args.keep, args.runtime, args.threads or 0)
        print(json.dumps(result, indent=1))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
