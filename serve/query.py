"""A search request as data, and the one place that picks the library call for it.

The CLI (``mmrag search``, local or ``--server``) and the REST endpoints build a ``SearchParams`` and call
``run_search``, so both answer the same question the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from ..library import Library
    from ..retrieval.hits import Hit

PASSAGE_KINDS = ("text", "document")


class SearchParams(BaseModel):
    """Everything a search can say but the query image (uploaded or a file, given separately)."""

    text: str | None = Field(None, description="Text query.")
    k: int = Field(10, description="Number of results.")
    kind: str = Field("image", description="image | generated | text (passages).")
    mode: str | None = Field(None, description="Passages: dense | bm25 | hybrid.")
    image_weight: float = Field(0.5, description="Weight of the image in a combined text + image query.")
    negative: str | None = Field(None, description="Text to steer away from.")
    negative_weight: float = Field(0.5, description="Weight of the negative text.")
    folder: str | None = Field(None, description="Folder glob, e.g. '2024/*'.")
    after: str | None = Field(None, description="Taken/modified on or after (YYYY-MM-DD).")
    before: str | None = Field(None, description="Taken/modified before (YYYY-MM-DD).")
    min_size: int | None = Field(None, description="Minimum file size in bytes.")
    max_size: int | None = Field(None, description="Maximum file size in bytes.")
    tag: list[str] | None = Field(None, description="Required tag (repeatable).")
    search_in: str = Field("all", description="Text → image: all (CLIP + OCR text fused) | clip | text (OCR only).")
    has_text: bool | None = Field(None, description="Only images in which OCR found text (true) or none (false).")

    def filters(self) -> dict[str, Any]:
        values = {"folder": self.folder, "after": self.after, "before": self.before, "min_size": self.min_size,
                  "max_size": self.max_size, "tags": self.tag or None, "has_text": self.has_text,
                  "kind": self.kind if self.kind not in ("image", *PASSAGE_KINDS) else None}
        return {key: value for key, value in values.items() if value is not None}

    def query_params(self) -> dict[str, Any]:
        """The fields that differ from their defaults, as a client sends them."""
        return self.model_dump(exclude_defaults=True)


def run_search(lib: Library, params: SearchParams, image: Any = None) -> list[Hit]:
    """Text → images, image → images, text + image (+ negative), or text → passages (kind text)."""
    filters = params.filters()
    if params.kind in PASSAGE_KINDS:
        if params.text is None:
            raise ValueError("passage search (kind text) needs a text query")
        return lib.search_text(params.text, k=params.k, filters=filters, kind="text", mode=params.mode)
    if image is not None or params.negative is not None:
        return lib.search(text=params.text, image=image, image_weight=params.image_weight, negative=params.negative,
                          negative_weight=params.negative_weight, k=params.k, filters=filters)
    if params.text is not None:
        return lib.search_text(params.text, k=params.k, filters=filters, kind=params.kind,
                               search_in=params.search_in)
    raise ValueError("give a text query, an image, or both")
