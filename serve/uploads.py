"""Uploaded query images: size-limited reads and safe decoding, each failure with its own status.

413: the body or the image is too large (bytes, or pixels before anything is decoded); 415: not an image
format Pillow knows; 422: an image that is truncated or corrupt.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from .errors import ApiError, error_response

if TYPE_CHECKING:
    from ..settings import ServeSettings

CHUNK = 1 << 16


def read_limited(stream: IO[bytes], name: str, limit: int) -> bytes:
    """At most ``limit`` bytes of an upload, or 413 without reading the rest."""
    parts, size = [], 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"upload {name!r} is larger than the server's limit of {limit:,} bytes")
        parts.append(chunk)
    if not size:
        raise ApiError(422, f"upload {name!r} is empty")
    return b"".join(parts)


def decode_upload(data: bytes, name: str, settings: ServeSettings) -> Image.Image:
    """An upright RGB image, decoded only after its header passed the pixel limit."""
    from ..ingest.images import open_image

    limit = settings.max_upload_pixels
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            width, height = probe.size
    except UnidentifiedImageError:
        raise ApiError(415, f"upload {name!r} is not an image in a format this server reads") from None
    except Image.DecompressionBombError:
        raise ApiError(413, f"upload {name!r} has too many pixels (limit {limit:,})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ApiError(422, f"upload {name!r}: truncated or corrupt image header ({exc})") from None
    if width * height > limit:
        raise ApiError(413, f"upload {name!r} is {width}x{height} = {width * height:,} pixels; "
                            f"the server's limit is {limit:,}")
    try:
        return open_image(data, f"upload {name!r}", limit).rgb
    except InputError as exc:
        raise ApiError(422, str(exc)) from None


FORM_OVERHEAD = 1 << 20  # room for the multipart framing and the form fields next to the image


class BodyLimitMiddleware:
    """Refuses request bodies beyond the upload limit (+ form overhead) before any parser sees them: at once
    from Content-Length, else while the bytes arrive (chunked); 413 JSON either way. An accepted body (at
    most the limit) is handed on from memory."""

    def __init__(self, app: Any, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit() + FORM_OVERHEAD
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(413, f"request body of {int(declared):,} bytes is larger than the server's "
                                      f"limit of {limit:,}")(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            size += len(message.get("body", b""))
            if size > limit:
                await error_response(413, f"request body is larger than the server's limit of {limit:,} "
                                          "bytes")(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body: dict[str, Any] | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> dict[str, Any]:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()  # type: ignore[no-any-return]

        await self.app(scope, replay, send)
