"""API keys of the REST service, kept in the catalog's ``api_keys`` table.

A key is ``mmrag_`` + 32 random bytes (URL-safe base64); the catalog keeps only its SHA-256 digest (a key
is random and long, so a plain digest cannot be guessed back), a short prefix to tell keys apart, its name
and its scopes. ``read`` allows search/ask/similar/assets/status; ``write`` also allows ingest, generate,
tag, remove and trash/restore (in the web app also uploads and feedback votes: anything that changes the library).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ..catalog import Catalog
from ..catalog.models import ApiKey, utcnow

READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)
KEY_PREFIX = "mmrag_"
SHOWN_PREFIX = 12  # characters of a key kept in clear to tell keys apart in listings
MAX_KEY_CHARS = 200  # anything longer is not one of our keys (and is not hashed)


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """The key may do what ``scope`` covers (REST endpoints and the web app's actions ask this)."""
        return scope in self.scopes

    def refusal(self, scope: str) -> str:
        """Why the key may not do what ``scope`` covers, naming the key, its scopes and the fix."""
        return (f"API key {self.name!r} has scope {', '.join(self.scopes)}; this needs the {scope!r} scope "
                f"(the operator makes such a key with `mmrag keys add NAME --scope {scope}`)")

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "prefix": self.prefix, "scopes": list(self.scopes),
                "created_at": self.created_at.isoformat(), "active": self.active,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def scopes_for(scope: str) -> tuple[str, ...]:
    """``read`` → (read,); ``write`` → (read, write): a key that may change the library may also read it."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; valid scopes: {', '.join(SCOPES)}")
    return SCOPES[: SCOPES.index(scope) + 1]


def add_key(catalog: Catalog, name: str, scope: str = READ) -> tuple[str, KeyInfo]:
    """Make a key; returns the secret (shown once, never stored) and its record."""
    name = name.strip()
    if not name:
        raise ValueError("a key needs a name (who or what uses it)")
    scopes = scopes_for(scope)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with catalog.session() as session:
        if session.execute(select(ApiKey).where(ApiKey.name == name)).scalar_one_or_none() is not None:
            raise ValueError(f"a key named {name!r} exists already; revoke it or choose another name")
        row = ApiKey(name=name, prefix=secret[:SHOWN_PREFIX], digest=digest(secret), scopes=",".join(scopes))
        session.add(row)
        session.flush()
        return secret, _info(row)


def list_keys(catalog: Catalog) -> list[KeyInfo]:
    with catalog.session() as session:
        return [_info(row) for row in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars()]


def revoke_key(catalog: Catalog, name_or_id: str) -> KeyInfo:
    """Revoke by name or id; a running server refuses the key within a second (it re-reads the active keys)."""
    with catalog.session() as session:
        query = select(ApiKey).where(ApiKey.name == name_or_id)
        if name_or_id.isdigit():
            query = select(ApiKey).where((ApiKey.name == name_or_id) | (ApiKey.id == int(name_or_id)))
        row = session.execute(query).scalars().first()
        if row is None:
            raise ValueError(f"no API key named {name_or_id!r} (see `mmrag keys list`)")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        session.flush()
        return _info(row)


def active_key_count(catalog: Catalog) -> int:
    with catalog.session() as session:
        return int(session.execute(select(func.count()).select_from(ApiKey)
                                   .where(ApiKey.revoked_at.is_(None))).scalar_one())


def active_keys(catalog: Catalog) -> dict[str, KeyInfo]:
    """Every active key by its digest (one query; the table holds a handful of rows)."""
    with catalog.session() as session:
        rows = session.execute(select(ApiKey).where(ApiKey.revoked_at.is_(None))).scalars()
        return {row.digest: _info(row) for row in rows}


def find_key(catalog: Catalog, secret: str) -> KeyInfo | None:
    """The active key with this secret, else None (unknown or revoked)."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > MAX_KEY_CHARS:
        return None
    with catalog.session() as session:
        row = session.execute(select(ApiKey).where(ApiKey.digest == digest(secret))).scalar_one_or_none()
        if row is None or row.revoked_at is not None or not secrets.compare_digest(row.digest, digest(secret)):
            return None
        return _info(row)


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.prefix, tuple(row.scopes.split(",")), row.created_at, row.revoked_at)
