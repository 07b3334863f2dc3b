"""Document ingest against the text model's own speed, on the same chunks, side by side in one process.

    python bench/rag_eval/build_faq.py                                  # once
    python bench/rag_eval/ingest_speed.py [--corpus perlfaq] [--runs 3] [--profile]

Each run ingests the corpus (easy form, HTML) into a fresh ``mmrag.Library`` (chunks/s of the whole
``lib.ingest``: read, chunk, embed, catalog and index writes), then embeds exactly the texts that ingest
embedded (``embedding_text`` of every chunk) with the same loaded model in one call (model-only chunks/s).
Reported: the median over runs of each, and the median of the per-run ratios ingest / model-only.
``--profile`` prints where one ingest spends its time (cProfile, top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1].parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from build_faq import OUT  # noqa: E402


def ingest_once(folder: Path, root: Path, embedder: Any | None) -> tuple[Any, float, int]:
    from mmrag import Library

    lib = Library(root, clip_model="tiny-test", device="cpu", text_embedder=embedder)
    lib.text_embedder.embed_texts(["warm up"])  # model load is not ingest
    started = time.perf_counter()
    report = lib.ingest([folder])
    seconds = time.perf_counter() - started
    return lib, seconds, int(report.chunks)


def indexed_texts(lib: Any) -> list[str]:
    from sqlalchemy import select

    from mmrag.catalog.models import Asset, Chunk
    from mmrag.ingest.documents.chunking import embedding_text

    with lib.catalog.session() as session:
        rows = session.execute(select(Chunk.section, Chunk.text)
                               .join(Asset, Asset.id == Chunk.asset_id).order_by(Chunk.id)).all()
    return [embedding_text(section, text) for section, text in rows]


def model_only(embedder: Any, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed_texts(texts)
    return time.perf_counter() - started


def run(corpus: str, runs: int, profile: bool) -> dict[str, Any]:
    import torch

    folder = OUT / corpus / "easy"
    if not folder.is_dir():
        raise SystemExit(f"{folder} missing: python bench/rag_eval/build_faq.py")
    ingest_rates, model_rates, ratios = [], [], []
    embedder = None
    with tempfile.TemporaryDirectory(prefix="mmrag-bench-ingest-") as temp:
        for number in range(runs):
            lib, seconds, chunks = ingest_once(folder, Path(temp) / f"lib{number}", embedder)
            print(f"run {number}: ingest {chunks} chunks in {seconds:.1f} s", flush=True)
            embedder = lib.text_embedder  # the same loaded model for every run and for model-only
            texts = indexed_texts(lib)
            model_s = model_only(embedder, texts)
            ingest_rates.append(chunks / seconds)
            model_rates.append(len(texts) / model_s)
            ratios.append(ingest_rates[-1] / model_rates[-1])
            print(f"run {number}: {chunks} chunks, ingest {seconds:.1f} s ({ingest_rates[-1]:.1f}/s), "
                  f"model-only {model_s:.1f} s ({model_rates[-1]:.1f}/s), ratio {ratios[-1]:.2f}", flush=True)
            lib.close()
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            lib, _, _ = ingest_once(folder, Path(temp) / "profiled", embedder)
            profiler.disable()
            lib.close()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return {"corpus": corpus, "chunks": chunks, "runs": runs, "torch_threads": torch.get_num_threads(),
            "ingest_chunks_per_s": round(statistics.median(ingest_rates), 1),
            "model_only_chunks_per_s": round(statistics.median(model_rates), 1),
            "ratio_median": round(statistics.median(ratios), 2), "ratios": [round(r, 2) for r in ratios],
            "load_average": [round(x, 1) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="perlfaq")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.corpus, args.runs, args.profile)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
