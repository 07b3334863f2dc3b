"""SQLAlchemy 2 models of the catalog: the source of truth for assets, chunks, vectors and provenance.

Vectors are stored here (float16 bytes) in the same transaction as their asset, so a crash can never leave
an asset without its vector or the reverse; FAISS indexes are derived from this table and can always be
rebuilt from it.

The same models serve SQLite and PostgreSQL, and behave the same on both: date-times are stored and returned
timezone-aware in UTC (``UTCDateTime``), NUL characters, which PostgreSQL text cannot hold, are replaced by
U+FFFD in free text (``CleanText``, keeping character offsets valid), free-form values such as model names
have no length limit (PostgreSQL enforces ``VARCHAR(n)``, SQLite does not), and the ids used as FAISS ids
(assets, chunks) are never reused on SQLite either (``AUTOINCREMENT``), as with PostgreSQL sequences.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 1

# Asset kinds
IMAGE = "image"
DOCUMENT = "document"
GENERATED = "generated"
KINDS = (IMAGE, DOCUMENT, GENERATED)

# Asset statuses
OK = "ok"
SKIPPED = "skipped"

# Vector spaces: one FAISS index per space.
IMAGE_SPACE = "image"  # CLIP vectors of image assets (item_id = asset id)
TEXT_SPACE = "text"  # text-embedder vectors of chunks (item_id = chunk id)
SPACES = (IMAGE_SPACE, TEXT_SPACE)
OCR_SPACE = "ocr"  # generation key of the OCR text (ocr_texts): its BM25 index is rebuilt when it moves on
IMAGE_KINDS = (IMAGE, GENERATED)  # asset kinds that have a CLIP vector in the image space
# What a search for a kind looks in ("text" is another name for documents' passages).
KIND_SPACES = {IMAGE: IMAGE_SPACE, GENERATED: IMAGE_SPACE, "text": TEXT_SPACE, DOCUMENT: TEXT_SPACE}


def space_of(kind: str) -> str:
    """The vector space that answers searches for ``kind``; ValueError naming the valid kinds."""
    try:
        return KIND_SPACES[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(sorted(KIND_SPACES))}") from None


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware date-time stored as UTC; naive values are taken to be UTC already.

    PostgreSQL (``timestamptz``) returns aware values in the session's time zone and SQLite returns naive
    ones; both come back here as aware UTC, so values from either backend compare and subtract alike.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CleanText(TypeDecorator[str]):
    """Text with NUL characters replaced by U+FFFD (PostgreSQL rejects NUL; extracted text may contain it)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the library: schema version, models, per-space vector generations."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        Index("ix_assets_kind_status", "kind", "status"),
        Index("ix_assets_sha256", "sha256"),
        Index("ix_assets_folder", "folder"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(4096), unique=True)
    folder: Mapped[str] = mapped_column(String(4096))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=OK)
    error: Mapped[str | None] = mapped_column(CleanText, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime: Mapped[float] = mapped_column(Float, default=0.0)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    format: Mapped[str | None] = mapped_column(String(32), default=None)
    phash: Mapped[str | None] = mapped_column(String(32), default=None)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    title: Mapped[str | None] = mapped_column(CleanText, default=None)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), default=None, index=True)
    source_chunk_id: Mapped[int | None] = mapped_column(
        ForeignKey("chunks.id", ondelete="SET NULL", use_alter=True), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tags: Mapped[list[Tag]] = relationship(secondary="asset_tags", back_populates="assets", lazy="selectin")
    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", foreign_keys="Chunk.asset_id"
    )


class ImageFeatures(Base):
    """Duplicate signature of an image asset (see ``catalog.features``), computed from content ``sha256``.

    A row whose ``sha256`` or ``version`` differs from the asset's content / the current signature version is
    stale and is recomputed when duplicates are next looked for (so are missing rows of older libraries).
    """

    __tablename__ = "image_features"
    __table_args__ = {"info": {"derived": True}}  # rebuilt when its columns change (catalog.db)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    pixel_sha: Mapped[str] = mapped_column(String(64), index=True)
    phashes: Mapped[bytes] = mapped_column(LargeBinary)  # 8 x 8 bytes
    small_width: Mapped[int] = mapped_column(Integer)
    small_height: Mapped[int] = mapped_column(Integer)
    small: Mapped[bytes] = mapped_column(LargeBinary)  # RGB bytes
    colour: Mapped[bytes] = mapped_column(LargeBinary)  # 6 float32
    analysis_width: Mapped[int] = mapped_column(Integer)
    analysis_height: Mapped[int] = mapped_column(Integer)
    keypoints: Mapped[bytes] = mapped_column(LargeBinary)  # n x 2 float32
    descriptors: Mapped[bytes] = mapped_column(LargeBinary)  # n x 32 bytes


class OcrText(Base):
    """Text read in an image asset by OCR (``models.ocr_base``): one row per image that was read, with an
    empty ``text`` when none was found, so ``has_text`` is known and the image is not read again.

    ``lines`` holds ``TextBox.to_dict()`` items (text, confidence, 4 corner points in the asset's pixels).
    """

    __tablename__ = "ocr_texts"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    engine: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(CleanText, default="")
    lines: Mapped[list] = mapped_column(JSON, default=list)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    has_text: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    assets: Mapped[list[Asset]] = relationship(secondary="asset_tags", back_populates="tags")


class AssetTag(Base):
    __tablename__ = "asset_tags"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)


class Chunk(Base):
    """A passage of a document asset, with where it came from."""

    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("asset_id", "ordinal"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(CleanText)
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    section: Mapped[str | None] = mapped_column(CleanText, default=None)
    char_start: Mapped[int] = mapped_column(Integer, default=0)
    char_end: Mapped[int] = mapped_column(Integer, default=0)

    asset: Mapped[Asset] = relationship(back_populates="chunks", foreign_keys=[asset_id])


class Vector(Base):
    """One embedding: item_id is an asset id (image space) or a chunk id (text space)."""

    __tablename__ = "vectors"
    __table_args__ = (
        UniqueConstraint("space", "item_id"),
        Index("ix_vectors_sha", "space", "content_sha256"),
        {"sqlite_autoincrement": True},  # row ids never reused: index sidecars track the newest row
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    space: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(Text)  # may hold a local path (``local-dir:…``)
    dim: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # float16, little endian, L2-normalised
    content_sha256: Mapped[str | None] = mapped_column(String(64), default=None)


class EmbeddingDraft(Base):
    """A passage vector of a long document whose ingest has not finished yet: embedding commits these in
    batches, so a killed ingest embeds only what is missing. Removed when the document is stored or skipped."""

    __tablename__ = "embedding_drafts"
    __table_args__ = {"info": {"derived": True}}

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of text model + passage text
    owner: Mapped[str] = mapped_column(Text, index=True)  # the document's path
    data: Mapped[bytes] = mapped_column(LargeBinary)  # float32


class Generation(Base):
    """Provenance of one generated image (the output is an asset of kind 'generated')."""

    __tablename__ = "generations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), unique=True)
    prompt: Mapped[str] = mapped_column(CleanText)
    negative_prompt: Mapped[str | None] = mapped_column(CleanText, default=None)
    mode: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    models: Mapped[dict] = mapped_column(JSON, default=dict)
    clip_score: Mapped[float | None] = mapped_column(Float, default=None)
    ref_similarity: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    refs: Mapped[list[GenerationRef]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class GenerationRef(Base):
    __tablename__ = "generation_refs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    ref_asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    ref_path: Mapped[str] = mapped_column(String(4096))
    role: Mapped[str] = mapped_column(String(32))  # init | control
    condition_path: Mapped[str | None] = mapped_column(String(4096), default=None)


class Feedback(Base):
    """A thumbs up (+1) or down (-1) on a search result or an answer."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(16))  # result | answer
    query: Mapped[str] = mapped_column(CleanText)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"), default=None)
    chunk_id: Mapped[int | None] = mapped_column(ForeignKey("chunks.id", ondelete="SET NULL"), default=None)
    value: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(CleanText, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrashEntry(Base):
    """A file moved into the library's trash folder (``Library.trash``), its catalog entries dropped; undone by
    ``Library.restore``, which moves it back (``restored_path``) and ingests it again."""

    __tablename__ = "trash"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(4096))  # where the file was
    trash_path: Mapped[str] = mapped_column(String(4096))  # where it is now
    asset_id: Mapped[int] = mapped_column(Integer)  # its catalog id before (ids are never reused)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    kept_id: Mapped[int | None] = mapped_column(Integer, default=None)  # the copy kept instead, if any
    trashed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    restored_path: Mapped[str | None] = mapped_column(String(4096), default=None)


class ApiKey(Base):
    """A key for the REST service (``mmrag serve``). Only a SHA-256 digest of the secret is stored: the key
    itself is shown once, when ``mmrag keys add`` makes it. ``scopes``: "read" or "read,write"."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to tell keys apart
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
