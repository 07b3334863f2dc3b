"""BM25 over every chunk of the library, with bm25s, persisted under ``<library>/index/bm25/``.

The saved index records the catalog's text-space generation (``vectors_generation:text``); when the catalog
has moved on (documents added, changed or removed) the index is rebuilt from the ``chunks`` table before the
next search. Like the FAISS indexes it is derived data: deleting the folder only costs a rebuild.

Tokenization: lower-cased words, English clitics dropped (``user's`` → ``user``, ``I've`` → ``I``), English
stop words dropped (bm25s's list plus the pronoun "I"), Snowball-stemmed (``converting`` and ``conversion``
meet at ``convert``); other one-letter words stay (``R``, ``C`` are names). Chinese, Japanese and Korean runs
become single characters plus character bigrams, since those scripts do not put spaces between words.
docs/rag.md §8 has the tokenizer ablation (bench/rag_eval/bm25_ablation.py) that chose this on the R FAQ.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from ..catalog.db import Catalog
from ..catalog.models import OK, TEXT_SPACE, Asset, Chunk

log = logging.getLogger(__name__)
TOKENIZER_VERSION = 2  # bump when tokenize() changes: saved indexes of another version are rebuilt at load
FOLDER = Path("index") / "bm25"
_WORD = re.compile(r"\w+", re.UNICODE)
_CLITIC = re.compile(r"(?<=\w)['’](?:s|t|d|ll|m|re|ve)\b")  # on lower-cased text: 's 't 'd 'll 'm 're 've
_EXTRA_STOPWORDS = ("i",)  # the pronoun; bm25s drops it only because its pattern drops every one-letter word
_CJK_RANGES = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FFFF),  # CJK extensions B+
)


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _CJK_RANGES)


@lru_cache(maxsize=1)
def _bm25s() -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import: one line per build
    return bm25s


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | frozenset(_EXTRA_STOPWORDS)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    from nltk.stem.snowball import SnowballStemmer

    return SnowballStemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stem(word) if word.isascii() and word.isalpha() and len(word) > 3 else word


def tokenize(text: str) -> list[str]:
    """Search tokens of a text (the same function reads chunks and queries)."""
    stop = _stopwords()
    tokens: list[str] = []
    for word in _WORD.findall(_CLITIC.sub("", text.lower())):
        if word.isascii():
            if word not in stop:
                tokens.append(_stem(word))
        else:
            tokens.extend(_split_mixed(word, stop))
    return tokens


def _split_mixed(word: str, stop: frozenset[str]) -> list[str]:
    """A word with non-ASCII letters: CJK runs → characters + bigrams, other runs → one stemmed word."""
    out: list[str] = []
    run: list[str] = []
    other: list[str] = []

    def flush_other() -> None:
        if other:
            piece = "".join(other)
            if piece not in stop:
                out.append(_stem(piece))
            other.clear()

    def flush_run() -> None:
        out.extend(run)
        out.extend(a + b for a, b in zip(run, run[1:], strict=False))
        run.clear()

    for ch in word:
        if _is_cjk(ch):
            flush_other()
            run.append(ch)
        else:
            flush_run()
            other.append(ch)
    flush_run()
    flush_other()
    return out


@dataclass
class Bm25Index:
    """A bm25s model plus the chunk ids of its rows and the catalog generation it reflects."""

    model: Any
    ids: np.ndarray
    generation: int

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str], generation: int) -> Bm25Index:
        model = _bm25s().BM25()
        if len(texts):
            model.index([tokenize(t) for t in texts], show_progress=False)
        return cls(model, np.asarray(ids, dtype=np.int64), generation)

    def __len__(self) -> int:
        return int(len(self.ids))

    def search(self, query: str, k: int, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, scores) with a positive score, best first; ``allowed_ids`` restricts the ids."""
        vocab = getattr(self.model, "vocab_dict", None) or {}
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens or not len(self.ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.asarray(self.model.get_scores(tokens), dtype=np.float32)
        if allowed_ids is not None:
            scores = np.where(np.isin(self.ids, allowed_ids), scores, 0.0)
        positive = int(np.count_nonzero(scores > 0))
        k = min(k, positive)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return self.ids[top], scores[top]

    def save(self, folder: Path) -> None:
        """Write atomically: a temporary folder renamed over the old one."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        temp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
        temp.mkdir()
        try:
            if len(self.ids):
                self.model.save(str(temp), show_progress=False)
            np.save(temp / "ids.npy", self.ids)
            meta = {"generation": self.generation, "count": len(self), "tokenizer": TOKENIZER_VERSION}
            (temp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            _replace_folder(temp, folder)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index | None:
        """The saved index, or None when it is missing, damaged or made by another tokenizer version."""
        bm25s = _bm25s()
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            ids = np.load(folder / "ids.npy")
            if meta.get("tokenizer") != TOKENIZER_VERSION or int(meta["count"]) != len(ids):
                return None
            model = bm25s.BM25.load(str(folder), show_progress=False) if len(ids) else bm25s.BM25()
            return cls(model, ids.astype(np.int64), int(meta["generation"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.info("BM25 index at %s unusable (%s); it will be rebuilt", folder, exc)
            return None


def _replace_folder(source: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        os.replace(target, old)
    os.replace(source, target)
    shutil.rmtree(old, ignore_errors=True)


def chunk_texts(catalog: Catalog) -> tuple[np.ndarray, list[str]]:
    """All searchable chunks (of assets with status ok): ids and the text BM25 reads (section + text)."""
    from ..ingest.documents.chunking import embedding_text

    with catalog.session() as session:
        rows = session.execute(
            select(Chunk.id, Chunk.section, Chunk.text)
            .join(Asset, Asset.id == Chunk.asset_id)
            .where(Asset.status == OK)
            .order_by(Chunk.id)
        ).all()
    return np.asarray([r[0] for r in rows], dtype=np.int64), [embedding_text(r[1], r[2]) for r in rows]


class Bm25Store:
    """One BM25 index of a library: loaded once, rebuilt (and saved) when the catalog's generation of
    ``space`` moved on. By default the passages (text space, ``chunk_texts``); the OCR text of images uses
    the same store with its own space and ``texts`` function."""

    def __init__(self, catalog: Catalog, folder: Path, space: str = TEXT_SPACE,
                 texts: Callable[[Catalog], tuple[np.ndarray, list[str]]] | None = None) -> None:
        self.catalog = catalog
        self.folder = folder
        self.space = space
        self.texts = texts or chunk_texts
        self._index: Bm25Index | None = None
        self._lock = threading.Lock()

    def get(self) -> Bm25Index:
        generation = self.catalog.generation(self.space)
        with self._lock:
            if self._index is None or self._index.generation != generation:
                self._index = self._fresh(generation)
            return self._index

    def _fresh(self, generation: int) -> Bm25Index:
        saved = Bm25Index.load(self.folder) if self.folder.exists() else None
        if saved is not None and saved.generation == generation:
            return saved
        ids, texts = self.texts(self.catalog)
        index = Bm25Index.build(ids, texts, generation)
        try:
            index.save(self.folder)
        except OSError as exc:  # a read-only library still searches, it just rebuilds in memory each time
            log.warning("could not save the BM25 index to %s: %s", self.folder, exc)
        return index
