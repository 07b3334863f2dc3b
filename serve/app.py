"""``create_app``: the FastAPI application over one ``ServeState`` (OpenAPI docs at /docs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import errors
from .metrics import MetricsMiddleware
from .routers import ask, assets, jobs, search, system, trash
from .state import ServeState
from .uploads import BodyLimitMiddleware

DESCRIPTION = """Semantic search, RAG and retrieval-guided generation over one mmrag library.

Send an API key as `Authorization: Bearer <key>` (or `X-API-Key`) when the server needs one: keys are made
with `mmrag keys add NAME --scope read|write`. Errors are JSON: `{"error": message, "status": code}`."""


def create_app(state: ServeState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not state.ready.is_set():
            state.start_loading()
        yield
        state.jobs.shutdown()

    from .. import __version__

    app = FastAPI(title="mmrag", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.mmrag = state
    errors.install(app)
    for module in (system, search, assets, ask, jobs, trash):
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, limit=lambda: state.settings.serve.max_upload_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)  # outermost: counts the refused too
    return app
