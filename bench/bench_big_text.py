"""One huge one-line text file (issue 17): chunking time, and wall time and peak memory of ``mmrag ingest``,
with the current chunker and optionally the chunker of an earlier commit, side by side in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_big_text.py --stage chunk --mib 4 --baseline 54d80a8
    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_big_text.py --stage ingest --mib 4

The file is words with single spaces and no sentence or line break (the campaign's case). ``chunk`` times
``chunk_document`` alone (all-MiniLM-L6-v2's tokenizer, chunk size 200, overlap 30), the variants alternating
in one process. ``ingest`` runs ``mmrag ingest`` in a fresh child process per variant (tiny-test CLIP; the text
model is all-MiniLM-L6-v2). The baseline is the chunking module read from
``git show COMMIT:ingest/documents/chunking.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORDS = "router reset button cable power light blinks seconds hold press".split()


def write_one_line(path: Path, size: int) -> None:
    rng = random.Random(0)
    text = " ".join(rng.choice(WORDS) for _ in range(size // 5 + 1))[:size]
    path.write_text(text, encoding="ascii")


def chunker(variant: str) -> Callable[..., list[Any]]:
    """``chunk_document`` of this tree ("current") or of the commit ``variant``."""
    from mmrag.ingest.documents import chunking

    if variant == "current":
        return chunking.chunk_document
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{variant}:ingest/documents/chunking.py"],
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("mmrag.ingest.documents.baseline_chunking")
    module.__package__ = "mmrag.ingest.documents"
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, "baseline_chunking.py", "exec"), module.__dict__)  # noqa: S102
    return module.chunk_document


def child(variant: str, library: str, folder: str) -> None:
    """Run ``mmrag ingest`` in this process, with the baseline's chunker when ``variant`` is a commit."""
    from mmrag.cli import app
    from mmrag.ingest.documents import handler

    handler.chunk_document = chunker(variant)
    app(["ingest", folder, "--library", library, "--clip-model", "tiny-test", "--device", "cpu"])


def chunk_stage(variants: list[str], size: int, runs: int) -> list[dict[str, object]]:
    from mmrag.ingest.documents.text import LoadedDocument, Segment
    from mmrag.models.sentence import load_sentence_embedder

    tokenize = load_sentence_embedder("all-MiniLM-L6-v2", "cpu").tokenize
    with tempfile.TemporaryDirectory(prefix="bigtext-") as tmp:
        write_one_line(Path(tmp) / "one-line.txt", size)
        text = (Path(tmp) / "one-line.txt").read_text(encoding="ascii")
    document = LoadedDocument(text, None, None, [Segment(0, len(text), None, None)])
    functions = {variant: chunker(variant) for variant in variants}
    results: list[dict[str, object]] = []
    for _ in range(runs):
        for variant, chunk_document in functions.items():
            started = time.perf_counter()
            chunks = chunk_document(document, 200, 30, tokenize)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # the process's peak so far
            results.append({"variant": variant, "seconds": round(time.perf_counter() - started, 1),
                            "chunks": len(chunks), "process_peak_rss_mb": peak})
            print(json.dumps(results[-1]), flush=True)
    return results


def run_variant(variant: str, folder: Path, work: Path, timeout: float) -> dict[str, object]:
    library = work / f"lib-{variant}-{time.monotonic_ns()}"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, "--child", variant, str(library), str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = started + timeout
    while (status := os.wait4(process.pid, os.WNOHANG))[0] == 0:
        if time.perf_counter() > deadline:
            process.kill()
            status = os.wait4(process.pid, 0)
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    output = process.stdout.read() if process.stdout else ""
    finished = os.WIFEXITED(status[1]) and os.WEXITSTATUS(status[1]) == 0
    return {"variant": variant, "seconds": round(seconds, 1), "peak_rss_mb": status[2].ru_maxrss // 1024,
            "finished": finished, "tail": output.strip().splitlines()[-2:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("chunk", "ingest"), default="ingest")
    parser.add_argument("--mib", type=float, default=4.0, help="file size in MiB (the ingest limit is 4)")
    parser.add_argument("--baseline", help="a commit whose chunker runs beside the current one")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is killed")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "LIBRARY", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    variants = ["current"] + ([args.baseline] if args.baseline else [])
    size = int(args.mib * 1024 * 1024)
    if args.stage == "chunk":
        results = chunk_stage(variants, size, args.runs)
    else:
        with tempfile.TemporaryDirectory(prefix="bigtext-") as tmp:
            work = Path(tmp)
            folder = work / "docs"
            folder.mkdir()
            write_one_line(folder / "one-line.txt", size)
            results = [run_variant(v, folder, work, args.timeout) for _ in range(args.runs) for v in variants]
        for result in results:
            print(json.dumps(result))
    for variant in variants:
        times = [r["seconds"] for r in results if r["variant"] == variant]
        print(f"{variant}: median {statistics.median(times):.1f} s over {len(times)} run(s)")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
