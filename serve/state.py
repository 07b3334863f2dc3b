"""The one application object: the library, its resident models and indexes, keys, jobs and metrics.

Built once per server; every router reads it from ``request.app.state.mmrag``. Loading (models, indexes)
runs in a background thread so the server answers ``/health`` with 503 "loading" until it is ready.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ..catalog import IMAGE_SPACE, TEXT_SPACE
from ..catalog.vectors import count_vectors
from .errors import ApiError
from .jobs import JobRunner
from .metrics import Metrics
from .security import Authenticator

if TYPE_CHECKING:
    from ..library import Library

log = logging.getLogger(__name__)

WARM_UP_QUERY = "a photo"


class ServeState:
    def __init__(self, lib: Library, *, require_keys: bool = False) -> None:
        self.lib = lib
        self.settings = lib.settings
        self.auth = Authenticator(lib.catalog, require_keys=require_keys)
        self.jobs = JobRunner()
        self.metrics = Metrics()
        self.ready = threading.Event()
        self.load_error: str | None = None

    def load(self) -> None:
        """Load the CLIP model and the indexes (and the text model when the library has passages), then run
        one query through each, so the first request pays nothing."""
        try:
            self.lib.clip.embed_texts([WARM_UP_QUERY])
            for space in (IMAGE_SPACE, TEXT_SPACE):
                self.lib.indexes.get(space)
            if count_vectors(self.lib.catalog, TEXT_SPACE):
                self.lib.text_embedder.embed_texts([WARM_UP_QUERY])
            self.ready.set()
            log.info("library %s loaded; serving", self.lib.path)
        except Exception as exc:  # noqa: BLE001 - reported by /health, the server stays up to say why
            log.error("loading library %s failed", self.lib.path, exc_info=exc)
            self.load_error = f"{type(exc).__name__}: {exc}"

    def start_loading(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="mmrag-load", daemon=True)
        thread.start()
        return thread

    def check_ready(self) -> None:
        if self.load_error:
            raise ApiError(503, f"the library could not be loaded: {self.load_error}")
        if not self.ready.is_set():
            raise ApiError(503, "the server is still loading its models and indexes; retry shortly (see /health)")
