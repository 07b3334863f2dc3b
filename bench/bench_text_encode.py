"""Text encode of a short query on the CPU, one thread: the full 77-token forward vs the trimmed torch tower
vs the ONNX Runtime export, interleaved in one run (same queries, same weights), ms p50.

    python bench/bench_text_encode.py --library /work/bench-data/lib1m --runs 30

The library gives the model (its mmrag.toml: ViT-B-32 with random weights saved to a file) and its ONNX
export (written by its first text query). Vectors of the three paths are compared (min cosine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

QUERIES = ["a dog", "red bicycle on a wall", "two cats sleeping on a sofa", "an old church at sunset",
           "children playing football in the rain", "a bowl of ramen with chopsticks and egg",
           "snowy mountain above a quiet lake", "portrait of a woman wearing a yellow hat"]  # 2-8 words


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", type=Path, default=Path("/work/bench-data/lib1m"))
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args(argv)

    import torch

    from mmrag.models.clip import OpenClipEmbedder
    from mmrag.models.onnx_text import load_onnx_text
    from mmrag.settings import Settings

    torch.set_num_threads(1)
    settings = Settings(library=args.library)
    clip = OpenClipEmbedder.load(settings.clip_model, settings.clip_pretrained, "cpu")
    onnx = load_onnx_text(args.library, clip.fingerprint, settings.clip_pretrained, threads=1)
    short_tower = clip._short_text

    def full(text: str) -> np.ndarray:
        clip._short_text = None
        try:
            return clip.embed_texts([text])
        finally:
            clip._short_text = short_tower

    paths = {"full77_torch": full, "short_torch": lambda t: clip.embed_texts([t])}
    if onnx is not None:
        paths["short_onnx"] = lambda t: onnx.embed_texts([t])
    times: dict[str, list[float]] = {name: [] for name in paths}
    worst = 1.0
    for fn in paths.values():
        fn(QUERIES[0])  # warm
    for i in range(args.runs):
        text = QUERIES[i % len(QUERIES)]
        outs = {}
        for name, fn in paths.items():
            t0 = time.perf_counter()
            outs[name] = fn(text)
            times[name].append(time.perf_counter() - t0)
        worst = min(worst, *(float((outs[n] @ outs["full77_torch"].T).item()) for n in outs))
    p50 = {name: round(1000 * statistics.median(t), 2) for name, t in times.items()}
    result = {"model": clip.fingerprint, "threads": 1, "runs": args.runs, "p50_ms": p50,
              "speedup_vs_full77": {n: round(p50["full77_torch"] / v, 1) for n, v in p50.items()},
              "min_cosine_vs_full77": round(worst, 6)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
