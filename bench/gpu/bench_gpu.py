"""GPU measurements (run on a CUDA machine; every part also runs on a CPU for a smoke test).

    python bench/gpu/bench_gpu.py --parts image,text,embed --out OUT.json     # needs open_clip
    python bench/gpu/bench_gpu.py --parts search,index --out OUT.json         # needs faiss (cpu build)

- image: CLIP ViT-B-32 (random weights) fp16 image embedding from JPEG files written here first; img/s of
  (a) mmrag's own path (PIL decode + ``OpenClipEmbedder.preprocess`` in worker processes, then
  ``embed_preprocessed``) and (b) GPU decoding (torchvision nvjpeg, resize and crop on the GPU), plus the
  model alone; cosine between (a) and (b) vectors of the same files.
- text: ``OpenClipEmbedder.embed_texts`` p50 for one short query: the full 77-token forward vs the trimmed one.
- embed: all-MiniLM-L6-v2 over the real-text corpus (texts.json.xz) into ``--work``/vectors.npy.
- search: exact top-10 over N x 512 normalised vectors: torch fp16 matmul + topk on the GPU vs FAISS
  IndexFlatIP on all CPU cores, both in this run; queries/s at batch 1000 and single-query p50.
- index: bench/bench_index_real.py over ``--work``/vectors.npy (recall@10 / p50 per index type).
"""

from __future__ import annotations

import argparse
import json
import lzma
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

K = 10


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _write_jpegs(args: tuple[Path, int, int]) -> None:
    from PIL import Image

    folder, start, stop = args
    rng = np.random.default_rng(start)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    for i in range(start, stop):
        a, b, c = rng.uniform(0.005, 0.05, 3)
        base = np.stack([np.sin(xx * a + i), np.cos(yy * b), np.sin((xx + yy) * c)], axis=-1)
        pixels = (127 + 100 * base + rng.normal(0, 12, base.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img_{i:06d}.jpg", quality=90)


def make_jpegs(folder: Path, n: int, workers: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    have = sorted(folder.glob("*.jpg"))
    if len(have) < n:
        step = max(1, n // (workers * 4))
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_write_jpegs, [(folder, s, min(n, s + step)) for s in range(0, n, step)]))
    return sorted(folder.glob("*.jpg"))[:n]


_PREPROCESS = None


def _init_worker(parts: SimpleNamespace) -> None:
    global _PREPROCESS
    torch.set_num_threads(1)
    _PREPROCESS = parts


def _cpu_preprocess(paths: list[Path]) -> np.ndarray:
    """Worker: mmrag's own decode + preprocess (PIL steps, numpy normalisation: OpenClipEmbedder.preprocess)."""
    from PIL import Image

    from mmrag.models.clip import OpenClipEmbedder

    return np.stack([OpenClipEmbedder.preprocess(_PREPROCESS, Image.open(p).convert("RGB")).numpy() for p in paths])


def image_part(work: Path, n: int, batch: int, workers: int) -> dict:
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2 import functional as tvf

    from mmrag.models.clip import OpenClipEmbedder

    t0 = time.perf_counter()
    paths = make_jpegs(work / "jpegs", n, workers)
    out: dict = {"jpegs": len(paths), "jpeg_size": "640x480", "write_s": round(time.perf_counter() - t0, 1)}
    torch.manual_seed(0)
    clip = OpenClipEmbedder.load("ViT-B-32", None, device())
    out["dtype"] = str(clip.dtype)
    chunks = [paths[i:i + batch] for i in range(0, len(paths), batch)]

    # (a) mmrag's path: CPU decode + preprocess in processes, model on the GPU
    parts = SimpleNamespace(_mean=clip._mean, _std=clip._std, _pil_steps=clip._pil_steps, _preprocess=None)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(parts,)) as pool:
        list(pool.map(_cpu_preprocess, [chunks[0][:2]] * workers))  # start every worker
        t0 = time.perf_counter()
        vectors_a = [clip.embed_preprocessed(list(torch.from_numpy(b))) for b in pool.map(_cpu_preprocess, chunks)]
        sync()
        out["mmrag_cpu_decode_img_s"] = round(len(paths) / (time.perf_counter() - t0), 1)

    # (b) nvjpeg decode, resize + crop + normalise on the GPU
    mean = torch.tensor(clip._mean.reshape(1, 3, 1, 1), device=device(), dtype=clip.dtype)
    std = torch.tensor(clip._std.reshape(1, 3, 1, 1), device=device(), dtype=clip.dtype)

    def gpu_batch(files: list[Path]) -> torch.Tensor:
        data = [torch.frombuffer(bytearray(p.read_bytes()), dtype=torch.uint8) for p in files]
        images = decode_jpeg(data, mode=ImageReadMode.RGB, device=device())
        images = [tvf.center_crop(tvf.resize(im, 224, antialias=True), [224, 224]) for im in images]
        x = torch.stack(images).to(clip.dtype) / 255
        with torch.inference_mode():
            return clip.model.encode_image((x - mean) / std)

    gpu_batch(chunks[0])
    sync()
    t0 = time.perf_counter()
    vectors_b = [gpu_batch(c) for c in chunks]
    sync()
    out["gpu_decode_img_s"] = round(len(paths) / (time.perf_counter() - t0), 1)
    a = vectors_a[0]
    b = torch.nn.functional.normalize(vectors_b[0].float(), dim=-1).cpu().numpy()
    out["cos_a_vs_b_min"] = round(float((a * b).sum(1).min()), 4)

    x = torch.randn(batch, 3, 224, 224, device=device(), dtype=clip.dtype)
    with torch.inference_mode():
        clip.model.encode_image(x)
        sync()
        t0 = time.perf_counter()
        for _ in range(10):
            clip.model.encode_image(x)
        sync()
    out["model_only_img_s"] = round(10 * batch / (time.perf_counter() - t0), 1)
    return out


def text_part(runs: int) -> dict:
    from mmrag.models.clip import OpenClipEmbedder

    torch.manual_seed(0)
    clip = OpenClipEmbedder.load("ViT-B-32", None, device())
    queries = ["a red bicycle", "two dogs playing in the snow", "an old church at sunset near the sea"]

    def p50(fn) -> float:  # noqa: ANN001
        fn(queries[0])
        times = []
        for i in range(runs):
            t0 = time.perf_counter()
            fn(queries[i % len(queries)])
            sync()
            times.append(time.perf_counter() - t0)
        return round(1000 * statistics.median(times), 3)

    short = p50(lambda t: clip.embed_texts([t]))
    tower, clip._short_text = clip._short_text, None
    full = p50(lambda t: clip.embed_texts([t]))
    clip._short_text = tower
    return {"device": device(), "short_p50_ms": short, "full77_p50_ms": full}


def embed_part(work: Path, texts_file: Path, model: Path) -> dict:
    from sentence_transformers import SentenceTransformer

    texts = json.loads(lzma.decompress(texts_file.read_bytes()))
    st = SentenceTransformer(str(model), device=device())
    t0 = time.perf_counter()
    vectors = st.encode(texts, batch_size=512, normalize_embeddings=True, convert_to_numpy=True)
    secs = time.perf_counter() - t0
    np.save(work / "vectors.npy", vectors.astype(np.float32))
    return {"sentences": len(texts), "dim": int(vectors.shape[1]), "embed_s": round(secs, 1),
            "sentences_per_s": round(len(texts) / secs), "weights": "fp16 copy of the bundled fp32 weights"}


def search_part(n: int, dim: int, queries: int) -> dict:
    import faiss

    gen = torch.Generator(device=device()).manual_seed(0)
    x = torch.randn(n, dim, device=device(), dtype=torch.float16, generator=gen)
    x = torch.nn.functional.normalize(x.float(), dim=-1).half() if n <= 2_000_000 else _normalise_chunks(x)
    q = torch.nn.functional.normalize(torch.randn(queries, dim, device=device(), generator=gen), dim=-1)

    def gpu_search(qs: torch.Tensor) -> torch.Tensor:
        return torch.topk(qs.half() @ x.T, K, dim=1).indices

    gpu_search(q[:8])
    sync()
    t0 = time.perf_counter()
    found_gpu = torch.cat([gpu_search(q[i:i + 250]) for i in range(0, queries, 250)]).cpu().numpy()
    sync()
    out: dict = {"n": n, "dim": dim, "queries": queries, "gpu": "torch fp16 matmul + topk (exact)",
                 "gpu_qps_batch": round(queries / (time.perf_counter() - t0), 1)}
    singles = []
    for i in range(50):
        t0 = time.perf_counter()
        gpu_search(q[i:i + 1]).cpu()
        singles.append(time.perf_counter() - t0)
    out["gpu_single_p50_ms"] = round(1000 * statistics.median(singles), 3)

    flat = faiss.IndexFlatIP(dim)
    for start in range(0, n, 1_000_000):
        flat.add(np.ascontiguousarray(x[start:start + 1_000_000].float().cpu().numpy()))
    qn = q.cpu().numpy()
    cpu_n = min(queries, 200)
    t0 = time.perf_counter()
    found_cpu = flat.search(qn[:cpu_n], K)[1]
    out["cpu"] = f"faiss {faiss.__version__} IndexFlatIP fp32, {faiss.omp_get_max_threads()} threads"
    out["cpu_qps_batch"] = round(cpu_n / (time.perf_counter() - t0), 2)
    out["gpu_over_cpu_qps"] = round(out["gpu_qps_batch"] / out["cpu_qps_batch"], 1)
    out["top10_agreement"] = round(float(np.mean([len(set(a) & set(b)) / K for a, b in
                                                  zip(found_gpu[:cpu_n], found_cpu, strict=True)])), 4)
    return out


def _normalise_chunks(x: torch.Tensor) -> torch.Tensor:
    for start in range(0, len(x), 1_000_000):
        part = x[start:start + 1_000_000].float()
        x[start:start + 1_000_000] = torch.nn.functional.normalize(part, dim=-1).half()
    return x


def index_part(work: Path, threads: int) -> list:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench_index_real

    vectors = np.load(work / "vectors.npy")
    return bench_index_real.run(vectors, 1000, threads, [])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="image,text")
    ap.add_argument("--work", type=Path, default=Path(".gpu-work"))
    ap.add_argument("--jpegs", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    ap.add_argument("--texts", type=Path, default=Path(".gpu/texts.json.xz"))
    ap.add_argument("--model", type=Path, default=Path(".gpu/minilm"))
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--index-threads", type=int, default=2)
    ap.add_argument("--text-runs", type=int, default=50)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {"torch": torch.__version__, "device": torch.cuda.get_device_name() if device() == "cuda"
                    else "cpu", "cpus": os.cpu_count()}
    parts = {
        "image": lambda: image_part(args.work, args.jpegs, args.batch, args.workers),
        "text": lambda: text_part(args.text_runs),
        "embed": lambda: embed_part(args.work, args.texts, args.model),
        "search": lambda: search_part(args.n, args.dim, args.queries),
        "index": lambda: index_part(args.work, args.index_threads),
    }
    for name in args.parts.split(","):
        t0 = time.perf_counter()
        try:
            result[name] = parts[name]()
        except Exception as exc:  # noqa: BLE001 - one failed part must not lose the others' figures
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
        result[f"{name}_wall_s"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({name: result[name]}, default=str)[:3000], flush=True)
        if args.out:
            args.out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
