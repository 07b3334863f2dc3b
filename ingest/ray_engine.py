"""The expensive part of an ingest on a Ray cluster (``mmrag ingest --engine ray``), with Ray Data.

The driver scans and plans exactly as a local ingest does, then hands the files to a Ray Data pipeline:

    files --map_batches(read, hash, decode, thumbnail: CPU tasks)--> decoded rows
          --map_batches(embed: an actor pool, one model load per actor, num_gpus=1 where the cluster has GPUs)-->
          results streamed back (iter_batches) to the one writer, which commits them in batches like a local ingest.

Each row runs the same per-file function as a local ingest (``jobs.image_job``), so a Ray ingest writes the same
catalog rows and the same vectors. Thumbnails are made on the workers and written by the driver, so only the
source files need to be readable from every node (a shared mount); the library folder stays on the driver.
Documents take the same path: parsed in CPU tasks, chunked and embedded in a text-model actor pool.

The catalog stays the source of truth: a lost worker or node is retried by Ray; if the driver dies, at most the
batches in flight are lost and the next run resumes without re-embedding what was committed.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..extras import optional_import
from .images import thumbnail_path
from .jobs import FileResult, ImageJobOptions, Known, document_job, image_job_for
from .scan import FoundFile

if TYPE_CHECKING:
    from ..settings import Settings
    from .documents.handler import ProcessedDocument

log = logging.getLogger(__name__)
DECODE_BATCH = 16  # files per CPU task: large enough to amortise task overhead, small enough to stream
CLUSTER_LOST_AFTER_S = 60.0  # the head unreachable this long: the run fails instead of waiting forever


class ShaIndex(Mapping[str, int]):
    """Content hash -> asset id as two sorted arrays: shipped once through Ray's object store (zero-copy),
    looked up by binary search, where a dict would be unpickled again by every task."""

    def __init__(self, by_sha: Mapping[str, int]) -> None:
        order = sorted(by_sha)
        self.keys = np.array(order, dtype="S64")
        self.values = np.array([by_sha[sha] for sha in order], dtype=np.int64)

    def _find(self, sha: object) -> int:
        if not isinstance(sha, str) or not len(self.keys):
            return -1
        key = np.bytes_(sha.encode())
        pos = int(np.searchsorted(self.keys, key))
        return pos if pos < len(self.keys) and self.keys[pos] == key else -1

    def __contains__(self, sha: object) -> bool:
        return self._find(sha) >= 0

    def __getitem__(self, sha: str) -> int:
        pos = self._find(sha)
        if pos < 0:
            raise KeyError(sha)
        return int(self.values[pos])

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in self.keys)

    def __len__(self) -> int:
        return len(self.keys)


def ray_module() -> Any:
    """``ray`` with Ray Data, or MissingDependencyError naming the ``ray`` extra."""
    ray = optional_import("ray")
    optional_import("ray.data")
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (``auto``/None: RAY_ADDRESS or a local one-process cluster)."""
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's C++ core logs to stderr; the CLI reports
    ray = ray_module()
    if not ray.is_initialized():
        ray.init(address=address or None, logging_level=logging.ERROR, log_to_driver=False,
                 include_dashboard=False if not address else None)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)  # execution plans and per-run INFO lines
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # commit order = scan order, as in a local ingest
    context.enable_progress_bars = False  # the CLI shows its own progress
    return ray


@contextmanager
def watching_cluster(ray: Any, lost_after_s: float = CLUSTER_LOST_AFTER_S) -> Iterator[None]:
    """Fail, instead of waiting forever, when the cluster's head stops answering for ``lost_after_s``.

    Ray's driver blocks without a time limit when its cluster disappears; a watchdog thread probes the head's
    port and interrupts the run, which then ends with a LibraryError saying what to do."""
    from ..errors import LibraryError

    if threading.current_thread() is not threading.main_thread():
        yield  # a job thread (mmrag serve): interrupting the main thread would stop the server instead
        return
    host, _, port = ray.get_runtime_context().gcs_address.rpartition(":")
    lost, done = threading.Event(), threading.Event()

    def watch() -> None:
        down_since: float | None = None
        while not done.wait(2.0):
            try:
                socket.create_connection((host, int(port)), timeout=2.0).close()
                down_since = None
            except OSError:
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > lost_after_s:
                    lost.set()  # SIGINT to the main thread: it interrupts a blocking wait, as Ctrl-C would
                    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                    return

    threading.Thread(target=watch, name="mmrag-ray-watchdog", daemon=True).start()
    try:
        yield
    except KeyboardInterrupt:
        if not lost.is_set():
            raise
        raise LibraryError(f"the Ray cluster at {host}:{port} stopped answering for {lost_after_s:.0f} s; "
                           "everything committed so far is safe in the catalog: run the same command again "
                           "(on a running cluster) to resume") from None
    finally:
        done.set()


def _cluster_gpus(ray: Any) -> float:
    return float(ray.cluster_resources().get("GPU", 0.0))


def _cpus(ray: Any) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _embed_pool(ray: Any, settings: Settings) -> dict[str, Any]:
    """Actor-pool arguments: one model per actor, a GPU each where the cluster has GPUs."""
    gpus = _cluster_gpus(ray)
    if gpus >= 1:
        return {"compute": ray.data.ActorPoolStrategy(min_size=1, max_size=int(gpus)), "num_gpus": 1}
    # half a CPU each: a decode and an embed actor still fit when a lost node leaves one CPU
    return {"compute": ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, _cpus(ray) // 2)), "num_cpus": 0.5}


# -- images ---------------------------------------------------------------------------------------------------

class DecodeActor:
    """Reads, hashes, decodes, thumbnails (and reads the text of) files: the same per-file function as a local
    ingest. An actor, so the OCR engine and the table of embedded contents load once per process."""

    def __init__(self, options: ImageJobOptions, by_sha: Any, ocr: str, ocr_engine: str) -> None:
        import ray

        from .ocr import ocr_step

        self.options = options
        self.by_sha = ray.get(by_sha) if isinstance(by_sha, ray.ObjectRef) else by_sha
        self.read_text = ocr_step(ocr, ocr_engine)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        results: list[bytes] = []
        thumbs: list[bytes] = []
        with tempfile.TemporaryDirectory(prefix="mmrag-ray-") as folder:
            for item in batch["item"]:
                found, old = pickle.loads(item)
                result = image_job_for(found, known={found.path: old} if old else {}, by_sha=self.by_sha,
                                       library=Path(folder), preprocess=np.asarray, read_text=self.read_text,
                                       **vars(self.options))
                thumb = thumbnail_path(Path(folder), result.sha256) if result.action == "embed" else None
                thumbs.append(thumb.read_bytes() if thumb is not None and thumb.exists() else b"")
                results.append(pickle.dumps(result))
        return {"result": results, "thumb": thumbs}


class ImageEmbedActor:
    """Loads the image model once per actor; embeds the rows whose content is new."""

    def __init__(self, settings: Settings) -> None:
        from ..models.registry import load_image_text_embedder

        self.clip = load_image_text_embedder(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        from PIL import Image

        results = [pickle.loads(item) for item in batch["result"]]
        todo = [i for i, result in enumerate(results) if result.action == "embed"]
        if todo:
            tensors = [self.clip.preprocess(Image.fromarray(results[i].tensor)) for i in todo]
            vectors = self.clip.embed_preprocessed(tensors)
            for i, vector in zip(todo, vectors, strict=True):
                results[i].tensor = None
                results[i].vector = np.asarray(vector, dtype=np.float32)
        return {"result": [pickle.dumps(result) for result in results], "thumb": list(batch["thumb"])}


def image_results(ray: Any, files: list[FoundFile], known: Mapping[str, Known], by_sha: Mapping[str, int],
                  settings: Settings, options: ImageJobOptions) -> Iterator[FileResult]:
    """Results of ``files`` in scan order, each embedded (``result.vector``) where its content is new."""
    if not files:
        return
    items = [{"item": pickle.dumps((found, known.get(found.path)))} for found in files]
    shas = ray.put(ShaIndex(by_sha))
    dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items) // DECODE_BATCH))
    decode_args = {"options": options, "by_sha": shas, "ocr": settings.ingest.ocr,
                   "ocr_engine": settings.ingest.ocr_engine}
    dataset = dataset.map_batches(DecodeActor, batch_size=DECODE_BATCH, fn_constructor_kwargs=decode_args,
                                  compute=ray.data.ActorPoolStrategy(min_size=1, max_size=_cpus(ray)), num_cpus=0.5,
                                  max_restarts=-1, max_task_retries=-1)
    dataset = dataset.map_batches(ImageEmbedActor, batch_size=settings.batch_size,
                                  fn_constructor_kwargs={"settings": settings},
                                  max_restarts=-1, max_task_retries=-1,
                                  **_embed_pool(ray, settings))
    with watching_cluster(ray):
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for item, thumb in zip(batch["result"], batch["thumb"], strict=True):
                result: FileResult = pickle.loads(item)
                if thumb:
                    path = thumbnail_path(settings.library, result.sha256 or "")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(bytes(thumb))
                yield result


# -- documents ------------------------------------------------------------------------------------------------

def _parse_batch(batch: dict[str, np.ndarray], *, max_bytes: int, ocr: str, ocr_engine: str) -> dict[str, list[bytes]]:
    """Read, hash and parse documents (a CPU task; scanned PDF pages are read by OCR): the loaded text goes on to
    the text-model actors."""
    from ..errors import InputError
    from .documents.loaders import load_document
    from .ocr import OcrStep

    page_reader = OcrStep("on", ocr_engine) if ocr != "off" else None  # loads on the first scanned page
    out: list[bytes] = []
    for item in batch["item"]:
        found, old = pickle.loads(item)
        result = document_job(found, old=old, max_bytes=max_bytes)
        loaded = None
        if result.action == "document":
            result.data = None  # parsed here: the bytes need not travel back
            try:
                loaded = load_document(Path(found.path), page_reader)
            except InputError as exc:
                result.action, result.reason = "skip", str(exc).removeprefix(f"{found.path}: ")
            except Exception as exc:  # noqa: BLE001 - one broken file never stops an ingest
                result.action, result.reason = "skip", f"unexpected error: {type(exc).__name__}: {exc}"
        out.append(pickle.dumps((result, loaded)))
    return {"item": out}


class TextEmbedActor:
    """Loads the text model once per actor; chunks (in its word pieces) and embeds each parsed document."""

    def __init__(self, settings: Settings) -> None:
        from ..models.registry import load_text_embedder

        self.settings = settings
        self.embedder = load_text_embedder(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[bytes]]:
        from ..errors import InputError
        from .documents.handler import processed_from_loaded

        out: list[bytes] = []
        for item in batch["item"]:
            result, loaded = pickle.loads(item)
            processed = None
            if loaded is not None:
                try:
                    processed = processed_from_loaded(loaded, Path(result.found.path), self.settings.rag,
                                                      self.embedder)
                except InputError as exc:
                    result.action, result.reason = "skip", str(exc).removeprefix(f"{result.found.path}: ")
            out.append(pickle.dumps((result, processed)))
        return {"item": out}


def document_results(ray: Any, files: list[FoundFile], known: Mapping[str, Known],
                     settings: Settings) -> Iterator[tuple[FileResult, ProcessedDocument | None]]:
    """Per document, in scan order: its result and, when it had text, its chunks and their vectors."""
    if not files:
        return
    items = [{"item": pickle.dumps((found, known.get(found.path)))} for found in files]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items) // 4))
    dataset = dataset.map_batches(_parse_batch, batch_size=4, num_cpus=0.5,
                                  fn_kwargs={"max_bytes": settings.ingest.max_file_bytes, "ocr": settings.ingest.ocr,
                                             "ocr_engine": settings.ingest.ocr_engine})
    dataset = dataset.map_batches(TextEmbedActor, batch_size=4, fn_constructor_kwargs={"settings": settings},
                                  max_restarts=-1, max_task_retries=-1,
                                  **_embed_pool(ray, settings))
    with watching_cluster(ray):
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for item in batch["item"]:
                yield pickle.loads(item)
