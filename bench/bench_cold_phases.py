"""Where a cold text search spends its CPU: each phase of one search in a fresh process, wall and CPU seconds.

The phases are those of ``mmrag search "..."`` in order: CLI and library imports, opening the library, loading
the CLIP text model (ONNX session + tokenizer, or torch), the first encodes, opening the image index, a CLIP-only
search (catalog fetch of the hits) and the fused search (OCR text). Run it with an older checkout first on
PYTHONPATH to compare trees; CPU seconds are the figure to read on a shared machine.

    python bench/bench_cold_phases.py /work/bench-data/lib1m
    PYTHONPATH=/tmp/before python bench/bench_cold_phases.py /work/bench-data/lib1m-before
"""

from __future__ import annotations

import json
import sys
import time

_last = (time.perf_counter(), time.process_time())
PHASES: dict[str, dict[str, float]] = {}


def mark(label: str) -> None:
    global _last
    now = (time.perf_counter(), time.process_time())
    PHASES[label] = {"wall_s": round(now[0] - _last[0], 3), "cpu_s": round(now[1] - _last[1], 3)}
    _last = now


def main(library: str) -> None:
    import mmrag.cli  # noqa: F401

    mark("import mmrag.cli")
    from mmrag.library import Library

    mark("import mmrag.library")
    from mmrag.catalog import IMAGE_SPACE
    from mmrag.retrieval.filters import Filters
    from mmrag.retrieval.ocr_search import search_images_by_text

    mark("import search modules")
    lib = Library(library)
    mark("open the library")
    components = lib.components
    clip = components.clip
    mark("load the CLIP text model")
    clip.embed_texts(["a photo of a cat"])
    mark("first text encode")
    clip.embed_texts(["a photo of a dog"])
    mark("second text encode")
    components.indexes.get(IMAGE_SPACE)
    mark("open the image index")
    search_images_by_text(components, "a photo of a bird", 10, Filters.parse(None), search_in="clip")
    mark("CLIP search + hits")
    search_images_by_text(components, "a photo of a fish", 10, Filters.parse(None))
    mark("fused search (OCR text)")
    json.dump(PHASES, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/bench-data/lib1m")
