"""The CLIP text tower in ONNX Runtime: text → vector without importing torch or open_clip.

A library keeps one export per text model under ``<library>/models/clip-text-<hash>/``: ``text.onnx`` (the
tower on trimmed ids, see :mod:`mmrag.models.clip_text`) with its weights apart in ``text.weights`` (ONNX
Runtime maps them instead of parsing them out of the graph: session creation 0.74 → 0.33 s CPU for
ViT-B-32), ``tokenizer.json`` (open_clip's BPE vocabulary for the ``tokenizers`` library) and ``meta.json``
(what it was exported from and how well it matched torch).
:mod:`mmrag.models.onnx_export` writes them once; this module only reads them.

Tokenisation equals open_clip's ``SimpleTokenizer``: the same cleaning (ftfy, HTML unescaping twice,
whitespace, lower case), the same split pattern and byte-level BPE, SOT/EOT added and truncated to the
context length with EOT kept last (checked in tests against open_clip on many strings).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .onnx_common import META_FILE, MIN_COSINE, MODEL_FILE, TOKENIZER_FILE, cpu_session, has_export_files
from .onnx_common import WEIGHTS_FILE as WEIGHTS_FILE  # the exporter and the tests name it from here
from .onnx_common import export_folder as _export_folder

FORMAT = 3  # 3: graph saved optimised; 2: as exported (still read); 1: weights inside text.onnx (made again)
READABLE_FORMATS = (2, 3)
_PLAIN = re.compile(r"[\x20-\x25\x27-\x7e\t\n\r]*")  # printable ASCII without '&': ftfy would change nothing
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ExportMeta:
    """What an export was made from; it is reused only while all of it still holds."""

    format: int
    fingerprint: str  # the CLIP fingerprint (model name and weights tag or file)
    weights_stamp: str  # size and mtime of a weights file, "" for tags and random weights
    dim: int
    context_length: int
    pool: str  # argmax | eos
    eos_id: int | None
    sot_token: int
    eot_token: int
    min_cosine: float  # worst cosine against torch's encode_text over the check sentences

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def export_folder(library: Path, fingerprint: str) -> Path:
    return _export_folder(library, "clip-text", fingerprint)


def weights_stamp(pretrained: str | None) -> str:
    path = Path(pretrained) if pretrained else None
    if path is None or not path.is_file():
        return ""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def read_meta(folder: Path) -> ExportMeta | None:
    """The export's metadata, or None when there is no complete, readable export in ``folder``."""
    try:
        data = json.loads((folder / META_FILE).read_text())
        meta = ExportMeta(**data)
    except (OSError, ValueError, TypeError):
        return None
    if meta.format not in READABLE_FORMATS or not has_export_files(folder):
        return None
    return meta


def usable_export(library: Path, fingerprint: str, pretrained: str | None) -> ExportMeta | None:
    """The library's export for this model when it exists, is current and matched torch."""
    meta = read_meta(export_folder(library, fingerprint))
    if meta is None or meta.fingerprint != fingerprint or meta.weights_stamp != weights_stamp(pretrained):
        return None
    return meta if meta.min_cosine >= MIN_COSINE else None


def clean_text(text: str) -> str:
    """open_clip's ``_clean_lower``: ftfy.fix_text, HTML unescaped twice, whitespace collapsed, lower case.

    ftfy (slow to import) cannot change printable ASCII without '&', so such text skips it.
    """
    if not _PLAIN.fullmatch(text):
        import ftfy

        text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return _SPACES.sub(" ", text).strip().lower()


class ClipTokenizer:
    """open_clip's SimpleTokenizer on the ``tokenizers`` library (Rust), without torch."""

    def __init__(self, path: Path, sot: int, eot: int, context_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self.sot, self.eot, self.context_length = sot, eot, context_length

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """int64 ids [len(texts), context_length], zero padded, like open_clip's tokenizer output."""
        encoded = self._tokenizer.encode_batch([clean_text(t) for t in texts], add_special_tokens=False)
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, enc in enumerate(encoded):
            ids = [self.sot, *enc.ids, self.eot][: self.context_length]
            ids[-1] = self.eot
            out[row, : len(ids)] = ids
        return out


text_session = cpu_session  # see onnx_common.cpu_session for the options and why


class OnnxTextEncoder:
    """Text → L2-normalised float32 vectors through an exported tower (see module docstring)."""

    def __init__(self, folder: Path, meta: ExportMeta, threads: int = 1) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from .clip_text import used_length

        self._used_length = used_length
        self.meta = meta
        self.dim = meta.dim
        # ONNX Runtime builds the session without holding the GIL, so it runs beside the tokenizer's load (which
        # holds it): on two idle cores the text model is ready in the longer of the two instead of their sum.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="onnx-text-session") as pool:
            session = pool.submit(text_session, folder / MODEL_FILE, threads)
            self.tokenizer = ClipTokenizer(folder / TOKENIZER_FILE, meta.sot_token, meta.eot_token,
                                           meta.context_length)
            self._session = session.result()

    def embed_ids(self, ids: np.ndarray) -> np.ndarray:
        trimmed = ids[:, : self._used_length(ids, self.meta.pool, self.meta.eos_id)]
        features = self._session.run(None, {"input_ids": np.ascontiguousarray(trimmed, dtype=np.int64)})[0]
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return (features / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_ids(self.tokenizer(list(texts)))


def load_onnx_text(library: Path, fingerprint: str, pretrained: str | None, threads: int = 1) -> Any | None:
    """The library's ONNX text encoder for this model, or None when it has no usable export (yet)."""
    meta = usable_export(library, fingerprint, pretrained)
    if meta is None:
        return None
    return OnnxTextEncoder(export_folder(library, fingerprint), meta, threads)
