"""The exception tree for run-time failures. Bad arguments raise ValueError/TypeError instead."""

from __future__ import annotations


class MmragError(Exception):
    """Base class of every run-time failure mmrag raises."""


class LibraryError(MmragError):
    """The library on disk cannot be used as it is (version, lock, model mismatch)."""


class SchemaVersionError(LibraryError):
    """The catalog was written by an incompatible version of mmrag."""


class ModelMismatchError(LibraryError):
    """The library's vectors come from another embedding model than the one configured."""


class LibraryLockedError(LibraryError):
    """Another process is writing to the library."""


class IndexCorruptError(LibraryError):
    """An index file or its sidecar is damaged or does not match the catalog."""


class ModelNotFoundError(MmragError):
    """Model weights could not be found locally (mmrag never waits on a download that cannot happen)."""


class MissingDependencyError(MmragError):
    """An optional dependency is not installed; the message names the extra that installs it."""


class InputError(MmragError):
    """A file or query input could not be read (unreadable, not an image, too large ...)."""


class GenerationError(MmragError):
    """Image generation failed at run time."""


class AnswerError(MmragError):
    """The configured answerer (LLM) failed."""
