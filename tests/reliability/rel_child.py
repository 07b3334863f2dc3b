"""Entry points of the child processes the trials start, kill and interrupt.

They run through a multiprocessing *forkserver* that has imported torch, open_clip and mmrag once: a trial
then costs a fork instead of a ~6 s (CPU) interpreter start, so many kills fit in a CI run. Each child is a
real process with its own catalog connections, threads and files; SIGKILL ends it as it would any process.
Children log to a file of their own and leave a JSON result when they finish.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sys
import time
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

PRELOAD = ["torch", "open_clip", "mmrag.library", "mmrag.ingest.pipeline", "mmrag.index.index_set",
           "mmrag.retrieval.search", "mmrag.models.clip", "rel_child"]

# Settings every child runs with: the tiny CLIP, CPU, one torch thread (the CI machine has two cores).
CHILD_ENV = {
    "MMRAG_CLIP_MODEL": "tiny-test",
    "MMRAG_DEVICE": "cpu",
    "MMRAG_TORCH_THREADS": "1",
    "MMRAG_USE_GPU_INDEX": "false",
    "OMP_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def context() -> BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _setup(env: dict[str, str], log_path: str) -> None:
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.update(env)
    import torch

    torch.set_num_threads(int(env.get("MMRAG_TORCH_THREADS", "1")))


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries that across exec from the
    process that forked, so a child of a test run late in the suite reported the pytest process's peak (3.4 GB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no procfs: an upper bound


def run_ingest(library: str, roots: list[str], env: dict[str, str], log_path: str, result_path: str) -> None:
    """Ingest ``roots`` into ``library`` and write the report (and peak RSS) to ``result_path``."""
    _setup({**CHILD_ENV, **env}, log_path)
    from mmrag import Library

    started = time.perf_counter()
    with Library(library) as lib:
        report = lib.ingest(roots)
    result = {"report": report.to_dict(), "peak_rss_mb": _peak_rss_mb(), "seconds": time.perf_counter() - started}
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


def run_reader(library: str, queries: list[str], deleted: list[int], stop_path: str, env: dict[str, str],
               log_path: str, result_path: str) -> None:
    """Search in a loop until ``stop_path`` exists; record every anomaly (see test_readers_during_writes)."""
    _setup({**CHILD_ENV, **env}, log_path)
    from rel_reader import reader_loop

    result = reader_loop(Path(library), queries, set(deleted), Path(stop_path))
    result["peak_rss_mb"] = _peak_rss_mb()
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


def read_result(result_path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(Path(result_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def main(argv: list[str]) -> None:
    """``python rel_child.py LIBRARY ROOT LOG RESULT``: one ingest in a process of its own (for setpriv)."""
    library, root, log_path, result_path = argv
    run_ingest(library, [root], {}, log_path, result_path)


if __name__ == "__main__":
    main(sys.argv[1:])
