"""FastAPI dependencies: the application state, checked for readiness and for the caller's key scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from .keys import READ, WRITE
from .state import ServeState

_bearer = HTTPBearer(auto_error=False, description="An API key made with `mmrag keys add`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, in a header of its own.")


def get_state(request: Request) -> ServeState:
    return request.app.state.mmrag  # type: ignore[no-any-return]


def _guard(scope: str):  # type: ignore[no-untyped-def]
    async def check(  # async: a dict lookup, no thread hop before the endpoint's own
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header_key: Annotated[str | None, Depends(_header)],
    ) -> ServeState:
        state = get_state(request)
        secret = header_key or (bearer.credentials if bearer is not None else None)
        state.auth.check(secret.strip() if secret else None, scope)
        state.check_ready()
        return state

    return check


Reader = Annotated[ServeState, Depends(_guard(READ))]
Writer = Annotated[ServeState, Depends(_guard(WRITE))]
