"""The catalog: a SQLAlchemy database (SQLite by default, PostgreSQL by URL) holding every asset and vector."""

from .db import Catalog, make_engine
from .models import (
    DOCUMENT,
    GENERATED,
    IMAGE,
    IMAGE_KINDS,
    IMAGE_SPACE,
    KIND_SPACES,
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
    space_of,
)

__all__ = [
    "DOCUMENT", "GENERATED", "IMAGE", "IMAGE_KINDS", "IMAGE_SPACE", "KIND_SPACES", "KINDS", "OK", "SCHEMA_VERSION",
    "SKIPPED", "SPACES", "TEXT_SPACE", "Asset", "Base", "Catalog", "Chunk", "Feedback", "Generation",
    "GenerationRef", "Meta", "Tag", "Vector", "make_engine", "space_of",
]
