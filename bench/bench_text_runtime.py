"""The text model (all-MiniLM-L6-v2) on torch and on its ONNX export, side by side (runs alternated).

    python bench/bench_text_runtime.py [--questions 50] [--passages 128] [--runs 3] [--threads 1]

- question encode: p50 ms (wall and CPU) of one question at a time, the R FAQ questions of bench/rag_eval;
- passages: chunks/s of ``embed_texts(passages)`` in one call (what ingest does: sentence-transformers sorts
  by length and batches 32), ~120-word passages cut from R's manuals.
Vectors of both runtimes are compared (worst cosine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "rag_eval"))
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evalset import CORPORA, load  # noqa: E402


def passages(count: int, words: int = 120) -> list[str]:
    from mmrag.ingest.documents.loaders import load_document

    text = " ".join(load_document(CORPORA["html"]).text.split())
    tokens = text.split()
    return [" ".join(tokens[i * words:(i + 1) * words]) for i in range(count)]


def main() -> None:
    import numpy as np
    from bench_rag import text_models

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--passages", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    questions = [q.text for q in load()[0]][: args.questions]
    chunks = passages(args.passages)
    with tempfile.TemporaryDirectory(prefix="mmrag-bench-text-") as library:
        models = text_models(Path(library), ("torch", "onnx"), args.threads)
        onnx, torch_model = models["onnx"].onnx, models["torch"]  # the encoder itself: passages too
        runtimes: dict[str, Any] = {"torch": torch_model, "onnx": onnx}
        result: dict[str, Any] = {name: {"question_p50_ms": [], "question_cpu_p50_ms": [], "passages_per_s": []}
                                  for name in runtimes}
        for _ in range(args.runs):
            for name, model in runtimes.items():
                wall, cpu = [], []
                for question in questions:
                    started, started_cpu = time.perf_counter(), time.process_time()
                    model.embed_texts([question], is_query=True)
                    wall.append(1000 * (time.perf_counter() - started))
                    cpu.append(1000 * (time.process_time() - started_cpu))
                result[name]["question_p50_ms"].append(round(statistics.median(wall), 2))
                result[name]["question_cpu_p50_ms"].append(round(statistics.median(cpu), 2))
                started = time.perf_counter()
                for first in range(0, len(chunks), 32):  # ingest's batches, each sorted call as ingest makes it
                    model.embed_texts(chunks[first:first + 32])
                result[name]["passages_per_s"].append(round(len(chunks) / (time.perf_counter() - started), 1))
        for name in runtimes:
            result[name] = {key: (statistics.median(values), values) for key, values in result[name].items()}
        both = [np.vstack([m.embed_texts(questions, is_query=True), m.embed_texts(chunks)]) for m in runtimes.values()]
        result["min_cosine"] = float((both[0] * both[1]).sum(1).min())
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
