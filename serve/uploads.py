"""Uploaded query images: size-limited reads and safe decoding, each failure with its own status.

413: the body or the image is too large (bytes, or pixels before anything is decoded); 415: not an image
format Pillow knows; 422: an image that is truncated or corrupt.
"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from .errors import ApiError

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
