"""The document step the ingest pipeline calls: load → chunk → embed, plus the images the document holds.

The pipeline stores the result: the document Asset, one Chunk row per ``ChunkSpec`` (ordinal = list index),
the text-space vectors keyed by chunk id, and each ``EmbeddedImage`` as an image Asset whose parent is the
document and whose ``source_chunk_id`` is the chunk at ``chunk_ordinal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...catalog.drafts import EmbeddingDrafts
from ...errors import InputError
from ...models.base import TextEmbedder
from ...settings import RagSettings
from .chunking import ChunkSpec, chunk_document, effective_chunk_size, embedding_text
from .drafted import embed_passages
from .loaders import DOCUMENT_EXTENSIONS, load_document
from .pdf_scan import PageReader
from .text import LoadedDocument

__all__ = [
    "DOCUMENT_EXTENSIONS",
    "ChunkSpec",
    "EmbeddedImage",
    "ProcessedDocument",
    "is_document",
    "process_document",
]


@dataclass
class EmbeddedImage:
    """Image file bytes (PNG/JPEG/...) found in a document; ``chunk_ordinal`` is the chunk where it appears."""

    data: bytes
    name: str
    chunk_ordinal: int | None


@dataclass
class ProcessedDocument:
    title: str | None
    text_length: int
    pages: int | None
    chunks: list[ChunkSpec]
    vectors: np.ndarray  # (len(chunks), dim) float32, L2-normalised
    images: list[EmbeddedImage]


def is_document(path: Path) -> bool:
    return Path(path).suffix.lower() in DOCUMENT_EXTENSIONS


def process_document(path: Path, rag: RagSettings, embedder: TextEmbedder,
                     ocr: PageReader | None = None, drafts: EmbeddingDrafts | None = None) -> ProcessedDocument:
    """Load, chunk and embed one document. Raises InputError (with the reason) for unusable files.
    ``ocr`` reads PDF pages that have no text layer (scans); ``drafts`` keeps a long document's finished
    embedding batches across a kill."""
    return processed_from_loaded(load_document(Path(path), ocr), Path(path), rag, embedder, drafts)


def processed_from_loaded(document: LoadedDocument, path: Path, rag: RagSettings,
                          embedder: TextEmbedder, drafts: EmbeddingDrafts | None = None) -> ProcessedDocument:
    """Chunk and embed a loaded document (the half of ``process_document`` that needs the text model)."""
    chunks = chunk_for(document, rag, embedder)
    if not chunks:
        raise InputError(f"{Path(path).name}: no text content found")
    vectors = embed_passages([embedding_text(c.section, c.text) for c in chunks], embedder, drafts)
    return ProcessedDocument(
        title=document.title,
        text_length=len(document.text),
        pages=document.pages,
        chunks=chunks,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        images=[
            EmbeddedImage(image.data, image.name, chunk_at(chunks, image.offset)) for image in document.images
        ],
    )


def chunk_for(document: LoadedDocument, rag: RagSettings, embedder: TextEmbedder) -> list[ChunkSpec]:
    """Chunks sized in the embedder's word pieces (when it exposes ``tokenize``) and capped to its max length."""
    size = effective_chunk_size(rag.chunk_size, getattr(embedder, "max_seq_length", None))
    tokenizer = getattr(embedder, "tokenize", None)
    return chunk_document(document, size, rag.chunk_overlap, tokenizer if callable(tokenizer) else None)


def chunk_at(chunks: list[ChunkSpec], offset: int) -> int | None:
    """Ordinal of the chunk holding ``offset`` (else the next one after it, else the last one)."""
    if not chunks:
        return None
    for ordinal, chunk in enumerate(chunks):
        if offset < chunk.char_end:
            return ordinal
    return len(chunks) - 1
