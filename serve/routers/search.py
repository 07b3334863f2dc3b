"""Search: text, uploaded image, both (with weights and negative text), filters; similar; duplicates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from ...retrieval.filters import Filters
from ..deps import Reader
from ..query import SearchParams, run_search
from ..uploads import decode_upload, read_limited
from .assets import require_asset

router = APIRouter(tags=["search"])


@router.get("/search", summary="Text search (the same JSON as `mmrag search --json`)")
def search(state: Reader, params: Annotated[SearchParams, Query()]) -> list[dict[str, Any]]:
    return [hit.to_dict() for hit in run_search(state.lib, params)]


@router.post("/search", summary="Search with an uploaded image, optionally combined with text and negative text")
def search_upload(
    state: Reader,
    params: Annotated[SearchParams, Form()],
    image: Annotated[UploadFile | None, File(description="Query image (JPEG, PNG, WebP …).")] = None,
) -> list[dict[str, Any]]:
    query_image = None
    if image is not None:
        name = image.filename or "image"
        data = read_limited(image.file, name, state.settings.serve.max_upload_bytes)
        query_image = decode_upload(data, name, state.settings.serve)
    return [hit.to_dict() for hit in run_search(state.lib, params, query_image)]


@router.get("/similar/{asset_id}", summary="More like library item ASSET_ID (the item itself left out)")
def similar(state: Reader, asset_id: int, k: int = 10, folder: str | None = None) -> list[dict[str, Any]]:
    require_asset(state, asset_id)
    filters = {"folder": folder} if folder else None
    return [hit.to_dict() for hit in state.lib.similar(asset_id, k=k, filters=filters)]


@router.get("/duplicates", summary="Groups of copies of one picture, each pair labelled with a confidence")
def duplicates(state: Reader, min_confidence: float | None = None, folder: str | None = None) -> list[dict[str, Any]]:
    filters = Filters.parse({"folder": folder} if folder else None)
    return [g.to_dict() for g in state.lib.duplicates(min_confidence=min_confidence, filters=filters)]
