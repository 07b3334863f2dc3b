"""Health, readiness, status, metrics and job polling."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..deps import Reader, get_state
from ..errors import ApiError

router = APIRouter(tags=["system"])


@router.get("/health", summary="200 once models and indexes are loaded; 503 while loading or if loading failed")
def health(request: Request) -> JSONResponse:
    state = get_state(request)
    if state.load_error:
        return JSONResponse({"status": "failed", "error": state.load_error}, status_code=503)
    if not state.ready.is_set():
        return JSONResponse({"status": "loading"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/status", summary="Counts, models, indexes, device and size (as `mmrag status --json`)")
def status(state: Reader) -> dict[str, Any]:
    return state.lib.status()


@router.get("/metrics", summary="Prometheus metrics: request counts and latency histograms")
def metrics(state: Reader) -> Response:
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)


@router.get("/jobs", summary="Ingest and generation jobs, newest first")
def jobs(state: Reader) -> list[dict[str, Any]]:
    return [job.to_dict() for job in state.jobs.list()]


@router.get("/jobs/{job_id}", summary="One job: state, progress, result or error")
def job(job_id: str, state: Reader) -> dict[str, Any]:
    found = state.jobs.get(job_id)
    if found is None:
        raise ApiError(404, f"no job {job_id!r} (finished jobs are kept for a while, then forgotten)")
    return found.to_dict()
