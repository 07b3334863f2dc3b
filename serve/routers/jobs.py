"""Write jobs: ingest (only folders under ``serve.ingest_roots``) and retrieval-guided generation.

Both answer 202 with the job at once; poll ``GET /jobs/{id}`` for progress and the result. Generation's
outputs are library items: fetch them with ``/assets/{id}/file`` and their provenance with ``/assets/{id}``.
Model choices (base model, ControlNet, LoRA) are the operator's settings, never paths from a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..deps import Writer
from ..errors import ApiError
from ..jobs import Progress

router = APIRouter(tags=["jobs"])


class IngestRequest(BaseModel):
    paths: list[str] = Field(min_length=1, max_length=1000, description="Folders or files under serve.ingest_roots.")


class GenerateRequest(BaseModel):
    prompt: str = Field(description="What to generate.")
    like: str | None = Field(None, description="Use the nearest library images of this text as references.")
    k: int = Field(1, ge=1, le=16, description="How many `like` images to use.")
    ref_ids: list[int] | None = Field(None, max_length=16, description="Reference library ids.")
    mode: str = Field("img2img", description="txt2img | img2img | controlnet | controlnet-img2img.")
    control: str = Field("canny", description="canny | depth.")
    combine: str = Field("each", description="each | multi.")
    n: int = Field(1, ge=1, le=16, description="Images per reference.")
    seed: int | None = Field(None, ge=0, lt=2**63)
    steps: int | None = Field(None, ge=1, le=200)
    strength: float | None = None
    guidance: float | None = None
    width: int | None = Field(None, ge=8, le=2048, description="Output width, a multiple of 8; default: the "
                              "model's size (512 for Stable Diffusion, 64 for tiny-test), as on the CLI and web app.")
    height: int | None = Field(None, ge=8, le=2048, description="Output height; default as for width.")
    negative_prompt: str | None = None
    scheduler: str | None = None
    control_low: int = 100
    control_high: int = 200
    control_scale: float = 1.0


def allowed_paths(paths: list[str], roots: list[Path]) -> list[Path]:
    """Each path resolved if it lies under an ingest root; else the refusal's status and reason."""
    from ...ingest.roots import REFUSAL_STATUS, PathRefused, allowed_ingest_path

    try:
        return [allowed_ingest_path(raw, roots) for raw in paths]
    except PathRefused as exc:
        raise ApiError(REFUSAL_STATUS[exc.reason], f"ingest path {exc}") from None


@router.post("/ingest", status_code=202, summary="Start an ingest job (write scope)")
def ingest(state: Writer, request: IngestRequest) -> JSONResponse:
    paths = allowed_paths(request.paths, state.settings.serve.ingest_roots)

    def work(progress: Progress) -> dict[str, Any]:
        report = state.lib.ingest(paths, progress=lambda done, total, _path: progress(done, total))
        return report.to_dict()  # type: ignore[no-any-return]

    job = state.jobs.submit("ingest", {"paths": [str(p) for p in paths]}, work)
    return _accepted(job.to_dict())


@router.post("/generate", status_code=202, summary="Start a generation job (write scope)")
def generate(state: Writer, body: GenerateRequest) -> JSONResponse:
    from ...generation.request import GenerationRequest, missing_references

    fields = body.model_dump(exclude={"like", "k", "ref_ids"})
    request = GenerationRequest(**fields)
    request.validate(state.settings.generation)  # bad parameters: 422 now, not a failed job later
    if request.needs_refs and not (body.like or body.ref_ids):
        raise ApiError(422, missing_references(request.mode, "'like' (text) or 'ref_ids' (library ids)"))

    def work(progress: Progress) -> dict[str, Any]:
        result = state.lib.generate(request, like=body.like, k=body.k, ref_ids=body.ref_ids, progress=progress)
        return result.to_dict()  # type: ignore[no-any-return]

    job = state.jobs.submit("generate", body.model_dump(), work)
    return _accepted(job.to_dict())


def _accepted(job: dict[str, Any]) -> JSONResponse:
    return JSONResponse(job, status_code=202, headers={"Location": f"/jobs/{job['id']}"})


