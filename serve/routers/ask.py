"""Ask: an answer from the library's documents with numbered citations and related images.

The answerer (LLM) is the operator's configuration (``rag.*`` settings): a request cannot point the server
at another model file or endpoint.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..deps import Reader

router = APIRouter(tags=["ask"])


class AskRequest(BaseModel):
    question: str = Field(description="The question.")
    k: int | None = Field(None, ge=1, le=100, description="Passages to retrieve (default: rag.top_k).")
    mode: str | None = Field(None, description="Retrieval: dense | bm25 | hybrid.")
    kind: str | None = Field(None, description="Only passages of this asset kind (document).")
    folder: str | None = Field(None, description="Only documents under this folder glob.")
    path: str | None = Field(None, description="Only documents whose path matches this glob.")
    tag: list[str] | None = Field(None, description="Only documents with these tags.")

    def filters(self) -> dict[str, Any] | None:
        values = {"kind": self.kind, "folder": self.folder, "path": self.path, "tags": self.tag or None}
        return {key: value for key, value in values.items() if value is not None} or None


@router.post("/ask", summary="Answer a question with citations and related images (as `mmrag ask --json`)")
def ask(state: Reader, request: AskRequest) -> dict[str, Any]:
    answer = state.lib.ask(request.question, k=request.k, mode=request.mode, filters=request.filters())
    return answer.to_dict()  # type: ignore[no-any-return]
