"""Which runtime encodes text-model questions: ONNX Runtime when the library has a checked export, else torch.

The ``text_runtime`` setting governs the text queries of both models (CLIP: :mod:`mmrag.models.clip_runtime`):

- ``auto`` / ``onnx``: questions (``is_query=True``) and, until torch is loaded, other short calls (at most
  SHORT_CALL texts, e.g. the extractive answerer's passages or the serve warm-up) go through the library's
  ONNX export of the sentence-transformers model when it exists and matched ``SentenceTransformer.encode``
  (cos >= 0.9999); torch and sentence-transformers then load only when a batch of passages is embedded
  (ingest), so a question imports neither. Without an export,
  torch encodes and the first question writes one (``onnx`` package needed; CPU; layouts that
  :mod:`mmrag.models.onnx_sentence_export` reproduces, others stay on torch with a log line).
- ``torch``: always sentence-transformers.

An export is also kept under ``<cache_dir>/onnx/`` (hard links where the file system allows): another library
of the same weights (the fingerprint names them) gets its copy from there instead of exporting again.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .base import LoadedOnce
from .clip_runtime import check_text_runtime, query_threads
from .onnx_common import MIN_COSINE, fill_and_swap
from .onnx_sentence import read_sentence_meta, sentence_export_folder, usable_sentence_export

if TYPE_CHECKING:
    from .onnx_sentence import OnnxSentenceEncoder
    from .sentence import ResolvedModel, SentenceEmbedder

log = logging.getLogger(__name__)
# Passages per call that ONNX encodes while torch is not loaded (loading it costs seconds). Once loaded, torch
# takes every passage call: on batches of ~120-word passages it is faster (7.6 vs 5.9 passages/s, 1 thread,
# bench/bench_text_runtime.py); on single questions ONNX is (11.7 vs 23.5 ms).
SHORT_CALL = 16
CACHE_FOLDER = "onnx"


class OnnxQuestionText:
    """The text model with questions on ONNX Runtime; sentence-transformers loads on the first passage batch."""

    def __init__(self, encoder: OnnxSentenceEncoder, load_torch: Callable[[], SentenceEmbedder],
                 resolved: ResolvedModel) -> None:
        self.onnx = encoder
        self.name = resolved.name
        self.resolved = resolved
        self.dim = encoder.dim
        self.max_seq_length = encoder.max_seq_length
        self._torch = LoadedOnce(load_torch)

    @property
    def fingerprint(self) -> str:
        return self.resolved.fingerprint

    @property
    def torch_model(self) -> SentenceEmbedder:
        return self._torch.get()

    def embed_texts(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        if is_query or (self._torch.loaded is None and len(texts) <= SHORT_CALL):
            return self.onnx.embed_texts(texts, is_query=is_query)
        return self.torch_model.embed_texts(texts, is_query=is_query)

    def tokenize(self, text: str) -> list[int]:
        """Word-piece ids without special tokens (the same ids as the model's own tokenizer)."""
        return self.onnx.tokenize(text)


def load_text_model(name: str, device: str = "auto", *, library: Path | None = None, text_runtime: str = "auto",
                    threads: int = 0, cache_dir: Path | None = None) -> SentenceEmbedder | OnnxQuestionText:
    """The sentence-transformers model for a library, its questions on the runtime ``text_runtime`` asks for."""
    from .sentence import resolve_sentence_model

    check_text_runtime(text_runtime)
    resolved = resolve_sentence_model(name)

    def load_torch() -> SentenceEmbedder:
        from .clip import configure_torch_threads
        from .sentence import load_resolved

        configure_torch_threads(threads, device)
        return load_resolved(resolved, device)

    use_onnx = text_runtime != "torch" and library is not None
    if use_onnx and importlib.util.find_spec("onnxruntime") is not None:
        encoder = _library_encoder(library, resolved.fingerprint, cache_dir, query_threads(threads))  # type: ignore[arg-type]
        if encoder is not None:
            return OnnxQuestionText(encoder, load_torch, resolved)
    embedder = load_torch()
    if use_onnx:
        embedder.export_library, embedder.export_cache = library, cache_dir  # the first question exports
    return embedder


def _library_encoder(library: Path, fingerprint: str, cache_dir: Path | None,
                     threads: int) -> OnnxSentenceEncoder | None:
    from .onnx_sentence import load_onnx_sentence

    if usable_sentence_export(library, fingerprint) is None and cache_dir is not None:
        cached = cache_folder(cache_dir, fingerprint)
        if usable_sentence_export(cached.parent.parent, fingerprint) is None:
            return None
        try:
            share(cached, sentence_export_folder(library, fingerprint))
        except OSError as exc:  # a read-only library: torch encodes, as before
            log.warning("could not copy the ONNX text model into %s: %s", library, exc)
            return None
    return load_onnx_sentence(library, fingerprint, threads)


def cache_folder(cache_dir: Path, fingerprint: str) -> Path:
    """Where exports are kept for other libraries: ``<cache_dir>/onnx/models/text-<hash>``."""
    return sentence_export_folder(Path(cache_dir) / CACHE_FOLDER, fingerprint)


def share(source: Path, target: Path) -> None:
    """Copy an export folder (hard links where possible) and swap it into place atomically."""

    def fill(work: Path) -> None:
        for path in source.iterdir():
            try:
                os.link(path, work / path.name)
            except OSError:
                shutil.copy2(path, work / path.name)

    fill_and_swap(target, fill)


def write_export(embedder: SentenceEmbedder, library: Path, cache_dir: Path | None) -> OnnxSentenceEncoder | None:
    """Export the model to ``library`` (and share it through ``cache_dir``); its encoder, or None where it cannot or
    did not match (or an export was there already: it is not written twice)."""
    from .onnx_sentence import load_onnx_sentence

    fingerprint = embedder.fingerprint
    if embedder.device != "cpu" or importlib.util.find_spec("onnx") is None:
        return None  # exported from the fp32 CPU model only; `onnx` is needed to write the file
    earlier = read_sentence_meta(sentence_export_folder(library, fingerprint))
    if earlier is not None and earlier.fingerprint == fingerprint:
        return None  # exported before (in use by load_text_model, or found inexact: torch stays)
    from .onnx_sentence_export import export_sentence_model, why_not_exportable

    reason = why_not_exportable(embedder.model)
    if reason is not None:
        log.info("text model %s: questions stay on torch (no ONNX export: %s)", embedder.name, reason)
        return None
    try:
        meta = export_sentence_model(embedder.model, library, fingerprint)
        if cache_dir is not None and meta.min_cosine >= MIN_COSINE:
            share(sentence_export_folder(library, fingerprint), cache_folder(cache_dir, fingerprint))
    except (OSError, RuntimeError) as exc:  # a read-only library or cache, a graph torch.onnx cannot trace
        log.warning("could not export text model %s to ONNX in %s: %s", embedder.name, library, exc)
        return None
    if meta.min_cosine < MIN_COSINE:
        return None
    import torch

    return load_onnx_sentence(library, fingerprint, torch.get_num_threads())
