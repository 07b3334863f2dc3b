"""Who may call what: API keys from the catalog, checked per request (a revoked key is refused within 1 s).

With no active key in the catalog and the server bound to loopback, requests need no key (a local, one-user
service). Once a key exists, or when the server listens on another address, every endpoint but the health
probe needs ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``): 401 without a valid key, 403 when
the key lacks the endpoint's scope.
"""

from __future__ import annotations

import time

from ..catalog import Catalog
from .errors import ApiError
from .keys import KEY_PREFIX, MAX_KEY_CHARS, KeyInfo, active_keys, digest


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
    """Checks keys against a snapshot of the active keys, re-read from the catalog at most every
    ``refresh_s`` seconds: a request costs a dict lookup, and a key added or revoked by ``mmrag keys`` in
    another process takes effect within that time."""

    def __init__(self, catalog: Catalog, *, require_keys: bool, refresh_s: float = 1.0) -> None:
        self.catalog = catalog
        self.require_keys = require_keys
        self.refresh_s = refresh_s
        self._keys: dict[str, KeyInfo] = {}
        self._read_at = -float("inf")

    def keys(self, *, fresh: bool = False) -> dict[str, KeyInfo]:
        now = time.monotonic()
        if fresh or now - self._read_at >= self.refresh_s:
            self._keys, self._read_at = active_keys(self.catalog), now  # one assignment: readers see either
        return self._keys

    def check(self, secret: str | None, scope: str) -> KeyInfo | None:
        """The caller's key when it may use ``scope``; None for an open local server; else ApiError 401/403."""
        keys = self.keys()
        if secret is None:
            if self.require_keys or keys:
                raise ApiError(401, "this server needs an API key: send 'Authorization: Bearer <key>' "
                                    "(the operator makes keys with `mmrag keys add`)")
            return None
        ours = secret.startswith(KEY_PREFIX) and len(secret) <= MAX_KEY_CHARS
        key = keys.get(digest(secret)) or self.keys(fresh=True).get(digest(secret)) if ours else None
        if key is None:  # a key made since the last read works at once; a revoked one stops within refresh_s
            raise ApiError(401, "unknown or revoked API key")
        if not key.allows(scope):
            raise ApiError(403, key.refusal(scope))
        return key
