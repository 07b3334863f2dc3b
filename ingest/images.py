"""Decoding images for ingest and queries: one read, EXIF orientation, RGB, bomb limit, thumbnail, phash."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError

EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 36867
DATETIME = 306


@dataclass
class DecodedImage:
    rgb: Image.Image
    width: int
    height: int
    format: str | None
    taken_at: datetime | None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_image(data: bytes, name: str, max_pixels: int, draft_size: int | None = None) -> DecodedImage:
    """Decode image bytes into an upright RGB image, or raise InputError with the reason.

    With ``draft_size``, JPEGs decode at the smallest DCT scale that keeps both sides >= draft_size.
    """
    if not data:
        raise InputError(f"{name}: empty file (0 bytes)")
    try:
        # No warnings filter here: warnings.catch_warnings() is not thread-safe and, run in decode threads,
        # left a process-wide "error" filter behind. The size is checked against max_pixels explicitly
        # before any pixel is decoded; Pillow's own bomb check (DecompressionBombError) still applies.
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise InputError(
                f"{name}: image too large ({width}x{height} = {width * height:,} pixels, limit {max_pixels:,})"
            )
        fmt = image.format
        taken_at = _taken_at(image)
        if draft_size and fmt == "JPEG" and min(width, height) >= 2 * draft_size:
            image.draft("RGB", (draft_size, draft_size))
        image.load()
        image = ImageOps.exif_transpose(image) or image
        rgb = to_rgb(image)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{name}: {_unrecognised(data)}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"{name}: image too large ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{name}: truncated or corrupt image data ({exc})") from None
    if rgb.width < 1 or rgb.height < 1:
        raise InputError(f"{name}: image has no pixels")
    return DecodedImage(rgb, width, height, fmt, taken_at)


def _unrecognised(data: bytes) -> str:
    """Why Pillow cannot open ``data``; names formats that need a plugin (HEIC/HEIF, AVIF) by their header."""
    brand = data[8:12] if data[4:8] == b"ftyp" else b""
    if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
        return "HEIC/HEIF image, but no HEIF decoder is installed (pip install pillow-heif)"
    if brand in (b"avif", b"avis"):
        return "AVIF image, but this Pillow has no AVIF decoder (upgrade Pillow or pip install pillow-avif-plugin)"
    return "not an image (format not recognised)"


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB on a white background for transparent images; 16-bit and CMYK converted properly."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        high = array.max() or 1.0
        image = Image.fromarray((array * (255.0 / high)).clip(0, 255).astype(np.uint8), mode="L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _taken_at(image: Image.Image) -> datetime | None:
    try:
        exif = image.getexif()
        value = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME)
        if value:
            return datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not fail the image
        return None
    return None


def perceptual_hash(image: Image.Image) -> str:
    import imagehash

    return str(imagehash.phash(image))


def save_thumbnail(image: Image.Image, path: Path, size: int) -> None:
    """Write a JPEG thumbnail atomically. The temporary name is unique: two decode threads may write the
    thumbnail of the same content (copies in one batch) at once."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    thumb = image.copy()
    thumb.thumbnail((size, size))
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        thumb.save(tmp, "JPEG", quality=85)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# A query image file larger than this is refused before it is read (a device such as /dev/zero never ends).
MAX_QUERY_IMAGE_BYTES = 256 * 1024 * 1024


def _read_query_file(path: Path, given: str) -> bytes:
    """A query image's bytes: a missing path, a folder, a device or a FIFO each get their own message."""
    import os
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"query image {given!r} does not exist") from None
    except OSError as exc:
        raise InputError(f"query image {given!r}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
        raise InputError(f"query image {given!r} is {what}, not an image file")
    if path.stat().st_size > MAX_QUERY_IMAGE_BYTES:
        raise InputError(f"query image {given!r} is too large ({path.stat().st_size:,} bytes, "
                         f"limit {MAX_QUERY_IMAGE_BYTES:,})")
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | getattr(os, "O_NONBLOCK", 0))) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise InputError(f"query image {given!r} is not a regular file")
            return f.read(MAX_QUERY_IMAGE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"query image {given!r}: cannot read it ({exc.strerror or exc})") from None


def thumbnail_path(library: Path, sha256: str) -> Path:
    return library / "thumbs" / sha256[:2] / f"{sha256}.jpg"


def load_query_image(image: Any, max_pixels: int = 89_478_485) -> Image.Image:
    """A query image from a path, bytes, or a PIL image, decoded like ingested images."""
    if isinstance(image, Image.Image):
        return to_rgb(ImageOps.exif_transpose(image) or image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return open_image(bytes(image), "query image", max_pixels).rgb
    if isinstance(image, (str, Path)):
        return open_image(_read_query_file(Path(image).expanduser(), str(image)), str(image), max_pixels).rgb
    raise TypeError(f"image must be a path, bytes, a PIL image or an asset id, got {type(image).__name__}")
