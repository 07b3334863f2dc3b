"""Hugging Face hub helpers that never hang: find cached files, and tell quickly whether the hub is reachable.

Without HF_HUB_OFFLINE=1, huggingface_hub retries an unreachable hub for about a minute per file. mmrag
checks the cache first and, only for a model the cache lacks, probes the endpoint (one TCP connection, at most
``PROBE_TIMEOUT`` seconds) before the download. Nothing is remembered between probes: a long-running process
(``mmrag serve``) sees the network come and go, and two libraries in one process share no state.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

PROBE_TIMEOUT = 2.0  # seconds; a reachable hub answers a TCP connect in well under one


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """True when the hub endpoint (HF_ENDPOINT, else huggingface.co) accepts a TCP connection now; False at
    once when HF_HUB_OFFLINE is set. Each call probes afresh (called only before a download)."""
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
