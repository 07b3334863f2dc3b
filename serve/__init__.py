"""``mmrag serve``: a resident REST service (FastAPI + uvicorn) over one library.

Models and indexes load once at start and stay resident; every request goes through the same public
``Library`` API the CLI and the UI use. Layout (after txtai's API): ``state`` builds the one application
object, ``app`` assembles one router per concern (``routers/``), ``security`` checks API keys, ``jobs``
runs ingest and generation in the background, ``uploads`` reads query images safely, ``metrics`` counts
requests for Prometheus, ``server`` starts uvicorn.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):  # noqa: ANN202 - lazy: `import mmrag.serve.keys` must not import FastAPI
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
