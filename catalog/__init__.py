"""The catalog: a SQLAlchemy database (SQLite by default, PostgreSQL by URL) holding every asset and vector."""

from .db import Catalog, make_engine
from .models import (
    DOCUMENT,
    GENERATED,
    IMAGE,
    IMAGE_SPACE,
    KINDS,
    OK,
    SCHEMA_VERSION,
    SKIPPED,
    SPACES,
    TEXT_SPACE,
    Asset,
    Base,
    Chunk,
    Feedback,
    Generation,
    GenerationRef,
    Meta,
    Tag,
    Vector,
)

__all__ = [
    "DOCUMENT", "GENERATED", "IMAGE", "IMAGE_SPACE", "KINDS", "OK", "SCHEMA_VERSION", "SKIPPED", "SPACES",
    "TEXT_SPACE", "Asset", "Base", "Catalog", "Chunk", "Feedback", "Generation", "GenerationRef", "Meta", "Tag",
    "Vector", "make_engine",
]
