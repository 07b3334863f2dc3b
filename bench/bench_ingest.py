"""P1: ingest throughput vs model-only throughput, measured side by side in one run.

Model-only: the same CLIP model embedding pre-decoded, pre-processed tensors at the same batch size.
Ingest: ``Library.ingest`` on a fresh library (read, sha256, decode, thumbnail, pHash, preprocess, embed,
catalog commit, index add). Photos are real JPEGs made from scikit-image's sample photos at camera-like sizes.

    python bench/bench_ingest.py --n 256 --model ViT-B-32 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "colorwheel", "immunohistochemistry", "hubble_deep_field",
           "clock", "retina", "camera")


def make_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """JPEG photos 1200–2400 px wide, each a random crop of a sample scaled up (quality 90)."""
    from skimage import data

    rng = np.random.default_rng(seed)
    sources = [Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB") for name in SAMPLES]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(n):
        source = sources[number % len(sources)]
        w, h = source.size
        left, top = rng.integers(0, w // 4), rng.integers(0, h // 4)
        crop = source.crop((left, top, left + w * 3 // 4, top + h * 3 // 4))
        width = int(rng.integers(1200, 2400))
        photo = crop.resize((width, int(width * 0.75)), Image.BICUBIC)
        path = folder / f"photo_{number:05d}.jpg"
        photo.save(path, quality=90)
        paths.append(path)
    return paths


def model_only(embedder, paths: list[Path], batch_size: int) -> float:
    tensors = [embedder.preprocess(Image.open(p).convert("RGB")) for p in paths]
    embedder.embed_preprocessed(tensors[:batch_size])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(tensors), batch_size):
        embedder.embed_preprocessed(tensors[i : i + batch_size])
    return len(tensors) / (time.perf_counter() - start)


def ingest_rate(embedder, photos: Path, batch_size: int, workers: int, clip_model: str) -> float:
    from mmrag import Library

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "lib", clip_model=clip_model, clip_pretrained="none", device="cpu",
                      batch_size=batch_size, workers=workers, clip=embedder)
        start = time.perf_counter()
        report = lib.ingest([photos])
        elapsed = time.perf_counter() - start
        lib.close()
    assert report.added == len(list(photos.iterdir())), report.to_dict()
    return report.added / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="0 = mmrag's auto setting (all cores but one); -1 = torch's own default.")
    args = parser.parse_args()
    if args.torch_threads >= 0:
        from mmrag.models.clip import configure_torch_threads

        args.torch_threads = configure_torch_threads(args.torch_threads, "cpu")

    from mmrag.models.clip import OpenClipEmbedder

    embedder = OpenClipEmbedder.load(args.model, "none", "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        paths = make_photos(photos, args.n)
        model_rates, ingest_rates = [], []
        for _ in range(args.repeats):  # alternate so drift on a noisy machine hits both alike
            model_rates.append(model_only(embedder, paths, args.batch_size))
            ingest_rates.append(ingest_rate(embedder, photos, args.batch_size, args.workers, args.model))
    ratios = [i / m for i, m in zip(ingest_rates, model_rates, strict=True)]
    result = {
        "model": args.model, "photos": args.n, "batch_size": args.batch_size, "workers": args.workers,
        "torch_threads": args.torch_threads if args.torch_threads >= 0 else "torch default",
        "model_only_img_s": round(statistics.median(model_rates), 2),
        "ingest_img_s": round(statistics.median(ingest_rates), 2),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
