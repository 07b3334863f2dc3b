"""Whether a bind address is loopback: what decides, for ``mmrag serve`` and ``mmrag ui`` alike, if keys or a
login are required. No FastAPI import (the web app and the CLI use it)."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (``127.0.0.0/8``, ``::1``; brackets allowed)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
