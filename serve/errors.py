"""Every failure becomes a JSON body ``{"error": message, "status": code}``; a traceback never reaches a client.

Known failures map to their status here, once: bad arguments 422, a missing item 404, a locked or mismatched
library 409, a damaged index 503; anything else is logged with its traceback and answered 500 with the
exception's class only.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    IndexCorruptError,
    InputError,
    LibraryError,
    LibraryLockedError,
    MmragError,
    ModelMismatchError,
    ModelNotFoundError,
)

log = logging.getLogger(__name__)

# Most specific first: the first class that matches gives the status.
STATUS_OF: tuple[tuple[type[BaseException], int], ...] = (
    (InputError, 422),
    (LibraryLockedError, 409),
    (ModelMismatchError, 409),
    (IndexCorruptError, 503),
    (ModelNotFoundError, 503),
    (LibraryError, 503),
    (MmragError, 500),
    (FileNotFoundError, 404),
    (ValueError, 422),
    (TypeError, 422),
)


class ApiError(Exception):
    """A failure with its HTTP status, raised by the HTTP layer itself (auth, uploads, missing items)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def status_of(exc: BaseException) -> int | None:
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return None


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for kind, _status in STATUS_OF:  # handled here, not by the server-error layer (which re-raises to the log)
        app.add_exception_handler(kind, _any_error)
    app.add_exception_handler(Exception, _any_error)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.message, headers)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
    return error_response(422, "invalid request: " + "; ".join(problems))


async def _any_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    if status is None or status == 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, f"internal error ({type(exc).__name__}); the server log has the details")
    return error_response(status, str(exc))
