"""Who may call what: API keys from the catalog, checked per request (a revoked key is refused at once).

With no active key in the catalog and the server bound to loopback, requests need no key (a local, one-user
service). Once a key exists, or when the server listens on another address, every endpoint but the health
probe needs ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``): 401 without a valid key, 403 when
the key lacks the endpoint's scope.
"""

from __future__ import annotations

import ipaddress

from ..catalog import Catalog
from .errors import ApiError
from .keys import KeyInfo, active_key_count, find_key

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "the Authorization header must be 'Bearer <key>'")
        return value.strip()
    return None


class Authenticator:
    def __init__(self, catalog: Catalog, *, require_keys: bool) -> None:
        self.catalog = catalog
        self.require_keys = require_keys

    def check(self, secret: str | None, scope: str) -> KeyInfo | None:
        """The caller's key when it may use ``scope``; None for an open local server; else ApiError 401/403."""
        if secret is None:
            if self.require_keys or active_key_count(self.catalog):
                raise ApiError(401, "this server needs an API key: send 'Authorization: Bearer <key>' "
                                    "(the operator makes keys with `mmrag keys add`)")
            return None
        key = find_key(self.catalog, secret)
        if key is None:
            raise ApiError(401, "unknown or revoked API key")
        if scope not in key.scopes:
            raise ApiError(403, f"API key {key.name!r} has scope {', '.join(key.scopes)}; "
                                f"this endpoint needs the {scope!r} scope")
        return key
