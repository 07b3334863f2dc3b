"""Where a text → image query's time goes, part by part, in one process: the text tower, the index search, the
hits' rows, a catalog generation read; and the text tower's ONNX Runtime sessions side by side.

    python bench/bench_query_parts.py --library /work/bench-data/lib1m --queries 60
    python bench/bench_query_parts.py --library /work/bench-data/lib1m --sessions [--other-graph DIR]

``--sessions`` times the library's export (as saved) with 1 thread, 2 threads spinning (ONNX Runtime's
default) and 2 threads sleeping when idle (mmrag's setting), in blocks of 10 queries in turn (the first of
each block dropped: a spinning pool spins on after its run); ``--other-graph`` adds another
export folder of the same tower (e.g. one saved before ``save_optimized``) and reports the worst cosine.
Every figure is a median over the same queries, the variants alternated query by query.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BLOCK = 10  # queries per variant in turn (--sessions)


def timed(samples: dict[str, list[float]], name: str, fn: Callable[..., Any], *args: Any) -> Any:
    start = time.perf_counter()
    out = fn(*args)
    samples.setdefault(name, []).append(1000 * (time.perf_counter() - start))
    return out


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    return {name: round(statistics.median(values), 2) for name, values in samples.items()}


def parts(library: Path, queries: int) -> dict[str, Any]:
    from mmrag import Library
    from mmrag.catalog import IMAGE_SPACE
    from mmrag.retrieval.search import hits_by_id, nearest, query_vector

    samples: dict[str, list[float]] = {}
    with Library(library) as lib:
        components = lib.components
        lib.search_text("warm up", k=10)
        for i in range(queries):
            text = f"a photo of item {i} in the archive"
            timed(samples, "search_text, k=10", lib.search_text, text)
            vector = timed(samples, "text tower", query_vector, components, text + " again")
            timed(samples, "index search, depth 10", nearest, components.indexes, vector, 10, None)
            ranking = timed(samples, "index search, depth 100", nearest, components.indexes, vector, 100, None)
            timed(samples, "rows of 20 hits", hits_by_id, components.catalog, ranking.pairs[:20])
            timed(samples, "rows of 100 hits", hits_by_id, components.catalog, ranking.pairs)
            timed(samples, "generation read", components.catalog.generation, IMAGE_SPACE)
    return {"p50_ms": medians(samples), "queries": queries}


def sessions(library: Path, queries: int, other: Path | None) -> dict[str, Any]:
    import onnxruntime as ort

    from mmrag.models.onnx_common import MODEL_FILE
    from mmrag.models.onnx_text import ClipTokenizer, read_meta

    folder = next((library / "models").glob("clip-text-*"))
    meta = read_meta(folder)
    tokenizer = ClipTokenizer(folder / "tokenizer.json", meta.sot_token, meta.eot_token, meta.context_length)

    def session(path: Path, threads: int, spin: bool) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        return ort.InferenceSession(str(path / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    variants = {"saved, 1 thread": session(folder, 1, False), "saved, 2 threads spinning": session(folder, 2, True),
                "saved, 2 threads sleeping": session(folder, 2, False)}
    if other is not None:
        variants["other graph, 1 thread"] = session(other, 1, False)
    texts = [f"a photo of item {i} in the archive" for i in range(queries)]
    ids = [tokenizer([text]) for text in texts]
    ids = [row[:, : int((row != 0).sum())] for row in ids]
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for start in range(0, queries, BLOCK):  # blocks, variants in turn: a spinning pool keeps spinning a while
        for name, sess in variants.items():  # after its run, so the first runs after a switch are dropped
            for row in ids[start: start + BLOCK][:]:
                began, cpu_began = time.perf_counter(), time.process_time()
                sess.run(None, {"input_ids": row})
                if row is not ids[start]:
                    wall.setdefault(name, []).append(1000 * (time.perf_counter() - began))
                    cpu.setdefault(name, []).append(1000 * (time.process_time() - cpu_began))
    vectors = {name: np.concatenate([sess.run(None, {"input_ids": row})[0] for row in ids[:8]])
               for name, sess in variants.items()}
    first = next(iter(vectors.values()))
    worst = min(float(((v * first).sum(1) / np.linalg.norm(v, axis=1) / np.linalg.norm(first, axis=1)).min())
                for v in vectors.values())
    return {"wall_p50_ms": medians(wall), "cpu_p50_ms": medians(cpu), "min_cosine": round(worst, 8),
            "queries": queries, "export": str(folder), "format": meta.format}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=Path("/work/bench-data/lib1m"))
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--sessions", action="store_true", help="Compare ONNX Runtime sessions of the tower.")
    parser.add_argument("--other-graph", type=Path, help="Another export folder of the same tower.")
    args = parser.parse_args()
    result = sessions(args.library, args.queries, args.other_graph) if args.sessions else parts(args.library,
                                                                                                args.queries)
    print(json.dumps({**result, "load_average": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
