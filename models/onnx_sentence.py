"""A sentence-transformers text model in ONNX Runtime: question → vector without torch or transformers.

A library keeps one export per text model under ``<library>/models/text-<hash>/``: ``text.onnx`` (the
Transformer module: ids → token embeddings, dynamic batch and length) with its weights apart in
``text.weights``, the model's own ``tokenizer.json`` and ``meta.json`` (what it was exported from, how it
pools, its prompts and how well it matched ``SentenceTransformer.encode``).
:mod:`mmrag.models.onnx_sentence_export` writes them once; this module only reads them: the ``tokenizers``
library (truncation to ``max_seq_length``, padding per batch), the session, pooling (mean over the attention
mask, or the CLS token) and L2 normalisation in numpy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .onnx_common import (
    META_FILE,
    MIN_COSINE,
    MODEL_FILE,
    TOKENIZER_FILE,
    cpu_session,
    export_folder,
    has_export_files,
)
from .onnx_common import WEIGHTS_FILE as WEIGHTS_FILE  # the exporter and the tests name it from here

KIND = "text"
FORMAT = 2  # 2: graph saved optimised; 1: as exported (still read)
READABLE_FORMATS = (1, 2)
POOLINGS = ("mean", "cls")


@dataclass(frozen=True)
class SentenceExportMeta:
    """What an export was made from; it is reused only while all of it still holds."""

    format: int
    fingerprint: str  # the sentence model's fingerprint (name and weights sha256)
    dim: int
    max_seq_length: int  # word pieces, special tokens included (as SentenceTransformer truncates)
    pooling: str  # mean | cls
    inputs: tuple[str, ...]  # the graph's inputs: input_ids, attention_mask[, token_type_ids]
    query_prompt: str
    document_prompt: str
    min_cosine: float  # worst cosine against SentenceTransformer.encode over the check sentences

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def sentence_export_folder(library: Path, fingerprint: str) -> Path:
    return export_folder(library, KIND, fingerprint)


def read_sentence_meta(folder: Path) -> SentenceExportMeta | None:
    """The export's metadata, or None when there is no complete, readable export in ``folder``."""
    try:
        data = json.loads((folder / META_FILE).read_text())
        meta = SentenceExportMeta(**{**data, "inputs": tuple(data["inputs"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if meta.format not in READABLE_FORMATS or meta.pooling not in POOLINGS or not has_export_files(folder):
        return None
    return meta


def usable_sentence_export(library: Path, fingerprint: str) -> SentenceExportMeta | None:
    """The library's export for this model when it exists, was made from these weights and matched torch."""
    meta = read_sentence_meta(sentence_export_folder(library, fingerprint))
    if meta is None or meta.fingerprint != fingerprint:
        return None
    return meta if meta.min_cosine >= MIN_COSINE else None


def load_tokenizer(path: Path, max_seq_length: int) -> Any:
    """The model's fast tokenizer: truncated to ``max_seq_length`` (special tokens included), padded per batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length)
    return tokenizer


class OnnxSentenceEncoder:
    """Text → L2-normalised float32 vectors through an exported sentence-transformers model."""

    def __init__(self, folder: Path, meta: SentenceExportMeta, threads: int = 1) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.meta = meta
        self.dim = meta.dim
        self.max_seq_length = meta.max_seq_length
        self._untruncated: Any = None
        # the session builds without the GIL, beside the tokenizer's load (see OnnxTextEncoder)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="onnx-sentence-session") as pool:
            session = pool.submit(cpu_session, folder / MODEL_FILE, threads)
            self.tokenizer = load_tokenizer(folder / TOKENIZER_FILE, meta.max_seq_length)
            self._session = session.result()

    def features(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The graph's inputs for ``texts``: ids, attention mask (and token types), padded to the longest."""
        encoded = self.tokenizer.encode_batch([text.strip() for text in texts])
        length = max(len(enc.ids) for enc in encoded)
        out = {name: np.zeros((len(texts), length), dtype=np.int64) for name in self.meta.inputs}
        for row, enc in enumerate(encoded):
            n = len(enc.ids)
            out["input_ids"][row, :n] = enc.ids
            out["attention_mask"][row, :n] = 1
            if "token_type_ids" in out:
                out["token_type_ids"][row, :n] = enc.type_ids
        return out

    def embed_texts(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt = self.meta.query_prompt if is_query else self.meta.document_prompt
        features = self.features([prompt + text for text in texts])
        tokens = self._session.run(None, features)[0]
        pooled = pool(tokens, features["attention_mask"], self.meta.pooling)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def tokenize(self, text: str) -> list[int]:
        """Word-piece ids without special tokens and without truncation (what chunk sizes are measured in)."""
        if self._untruncated is None:  # a second tokenizer: the first one's settings are never changed
            from tokenizers import Tokenizer

            self._untruncated = Tokenizer.from_str(self.tokenizer.to_str())
            self._untruncated.no_truncation()
        return list(self._untruncated.encode(text, add_special_tokens=False).ids)


def pool(tokens: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """Sentence vectors from token embeddings [batch, length, dim]: the mean over the mask, or the first token."""
    if pooling == "cls":
        return tokens[:, 0]
    weights = mask[:, :, None].astype(tokens.dtype)
    return (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def load_onnx_sentence(library: Path, fingerprint: str, threads: int = 1) -> OnnxSentenceEncoder | None:
    """The library's ONNX encoder for this text model, or None when it has no usable export (yet)."""
    meta = usable_sentence_export(library, fingerprint)
    if meta is None:
        return None
    return OnnxSentenceEncoder(sentence_export_folder(library, fingerprint), meta, threads)
