"""Library items: metadata (with generation provenance), thumbnail, the file itself; tag and remove.

The file endpoint serves only the catalogued file of an item, found by its id: no path from a request is
ever opened.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from ...catalog import OK, Asset, Generation
from ...ingest.images import thumbnail_path
from ..deps import Reader, Writer
from ..errors import ApiError
from ..state import ServeState

router = APIRouter(prefix="/assets", tags=["assets"])
MAX_ID = 2**63


class TagChange(BaseModel):
    add: list[str] = Field(default_factory=list, description="Tags to add.")
    remove: list[str] = Field(default_factory=list, description="Tags to remove.")


def require_asset(state: ServeState, asset_id: int) -> Asset:
    if not 0 <= asset_id < MAX_ID:
        raise ApiError(404, f"no library item with id {asset_id}")
    with state.lib.catalog.session() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise ApiError(404, f"no library item with id {asset_id}")
        _ = asset.tags
        return asset


@router.get("/{asset_id}", summary="An item's metadata, tags and (for generated images) provenance")
def asset(state: Reader, asset_id: int) -> dict[str, Any]:
    item = require_asset(state, asset_id)
    data = {column: getattr(item, column) for column in (
        "id", "path", "folder", "kind", "status", "error", "sha256", "size", "mtime", "width", "height", "format",
        "phash", "taken_at", "title", "parent_id", "source_chunk_id")}
    data["tags"] = sorted(tag.name for tag in item.tags)
    data["generation"] = _provenance(state, asset_id)
    return data


@router.get("/{asset_id}/thumbnail", summary="The item's JPEG thumbnail", response_class=FileResponse)
def thumbnail(state: Reader, asset_id: int) -> FileResponse:
    item = require_asset(state, asset_id)
    path = thumbnail_path(state.lib.path, item.sha256) if item.sha256 else None
    if path is None or not path.is_file():
        raise ApiError(404, f"library item {asset_id} has no thumbnail (documents have none; "
                            "`mmrag doctor --fix` remakes missing ones)")
    return FileResponse(path, media_type="image/jpeg")


@router.get("/{asset_id}/file", summary="The item's catalogued file", response_class=FileResponse)
def file(state: Reader, asset_id: int) -> FileResponse:
    item = require_asset(state, asset_id)
    path = Path(item.path)
    if item.status != OK or not path.is_file():
        raise ApiError(404, f"the file of library item {asset_id} is not available ({item.status}, "
                            f"{'present' if path.is_file() else 'missing on disk'})")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=path.name)


@router.post("/{asset_id}/tags", summary="Add or remove tags (write scope)")
def tag(state: Writer, asset_id: int, change: TagChange) -> dict[str, Any]:
    require_asset(state, asset_id)
    state.lib.tag([asset_id], change.add, change.remove)
    return {"id": asset_id, "tags": sorted(t.name for t in require_asset(state, asset_id).tags)}


@router.delete("/{asset_id}", summary="Drop an item from the library; the file on disk stays (write scope)")
def remove(state: Writer, asset_id: int) -> dict[str, int]:
    item = require_asset(state, asset_id)
    return {"removed": state.lib.remove([item.path])}


def _provenance(state: ServeState, asset_id: int) -> dict[str, Any] | None:
    with state.lib.catalog.session() as session:
        row = session.execute(select(Generation).where(Generation.asset_id == asset_id)).scalar_one_or_none()
        if row is None:
            return None
        return {"prompt": row.prompt, "negative_prompt": row.negative_prompt, "mode": row.mode, "seed": row.seed,
                "params": row.params, "models": row.models, "clip_score": row.clip_score,
                "ref_similarity": row.ref_similarity, "created_at": row.created_at,
                "refs": [{"asset_id": r.ref_asset_id, "path": r.ref_path, "role": r.role,
                          "condition_path": r.condition_path} for r in row.refs]}
