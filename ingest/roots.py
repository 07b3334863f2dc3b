"""Which server folders a remote user (the REST service, the web app) may have ingested: only those under the
operator's ``serve.ingest_roots``. One rule for every edge; each refusal says why, and the edge picks how to
show it (an HTTP status, a message on the page)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .scan import canonical, inside

# Why a path is refused -> the HTTP status the REST service answers with.
REFUSAL_STATUS = {"off": 403, "not absolute": 422, "outside": 403, "missing": 404}


class PathRefused(ValueError):
    """A folder a remote user may not ingest; ``reason`` is a key of REFUSAL_STATUS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def allowed_ingest_path(raw: str, roots: Sequence[Path]) -> Path:
    """``raw`` resolved (``~``, ``..`` and symlinks followed) if it lies under one of ``roots``; else PathRefused."""
    if not roots:
        raise PathRefused("off", "ingest from server folders is off: the operator lists allowed folders in "
                                 "serve.ingest_roots")
    if not raw or "\x00" in raw or not os.path.isabs(os.path.expanduser(raw)):
        raise PathRefused("not absolute", f"{raw!r} is not an absolute path: give a folder under serve.ingest_roots")
    real = canonical(raw)
    if not inside(real, [canonical(root) for root in roots]):
        allowed = ", ".join(str(root) for root in roots)
        raise PathRefused("outside", f"{raw!r} is outside the allowed folders (serve.ingest_roots): {allowed}")
    if not Path(real).exists():
        raise PathRefused("missing", f"{raw!r} does not exist on the server")
    return Path(real)
