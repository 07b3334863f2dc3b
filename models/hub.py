"""Hugging Face hub helpers that never hang: find cached files, and tell quickly whether the hub is reachable.

Without HF_HUB_OFFLINE=1, huggingface_hub retries an unreachable hub for about a minute per file. mmrag
checks the cache first and probes the endpoint once (a few seconds at most) before any download.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from urllib.parse import urlparse


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the hub endpoint accepts a TCP connection (False at once when HF_HUB_OFFLINE is set)."""
    if offline():
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def cached_file(repo_id: str, filenames: tuple[str, ...]) -> str | None:
    """The local path of the first of ``filenames`` present in the HF cache for ``repo_id``, if any."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        path = try_to_load_from_cache(repo_id.strip("/"), filename)
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None
