"""The library's trash over HTTP: list it, move items' files into it (write scope), restore them (write scope).

Files move only under the library folder or ``serve.ingest_roots`` (``ingest.trash``); a refused request
moves nothing and answers 422 naming the item and the reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..deps import Reader, Writer

router = APIRouter(prefix="/trash", tags=["trash"])


class TrashRequest(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=10_000, description="Library item ids to move to the trash.")
    keep: int | None = Field(None, description="The copy kept instead (recorded; never moved).")


class RestoreRequest(BaseModel):
    entries: list[int] = Field(min_length=1, max_length=10_000, description="Trash entry ids to restore.")


@router.get("", summary="What is in the trash, newest first (as `mmrag trash list --json`)")
def listing(state: Reader, all: bool = False) -> list[dict[str, Any]]:  # noqa: A002 - the query parameter's name
    return [item.to_dict() for item in state.lib.trash_list(include_restored=all)]


@router.post("", summary="Move items' files to the library's trash and drop them from search (write scope)")
def trash(state: Writer, request: TrashRequest) -> list[dict[str, Any]]:
    return [item.to_dict() for item in state.lib.trash(request.ids, keep=request.keep)]


@router.post("/restore", summary="Move trashed files back and ingest them again (write scope)")
def restore(state: Writer, request: RestoreRequest) -> list[dict[str, Any]]:
    return [item.to_dict() for item in state.lib.restore(request.entries)]
