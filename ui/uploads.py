"""Uploaded images: size-limited and decoded with Pillow before anything uses them.

Query images are only ever held in memory. Generation references are written under ``<library>/uploads/``
(content-addressed), because provenance records the file a generated image came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

MAX_UPLOAD_MB = 20  # unless the server was started with another server.maxUploadSize (mmrag ui --max-upload-mb)
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
UPLOADS_DIR = "uploads"
PIXELS_FIX = ("shrink the image (e.g. to 4000 px on its long side) or raise the limit "
              "(MMRAG_INGEST__MAX_IMAGE_PIXELS, or max_image_pixels under [ingest] in the library's mmrag.toml)")
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "GIF": "gif", "TIFF": "tif"}


def upload_limit_mb() -> int:
    """The server's ``server.maxUploadSize`` when it was set (command line or config file), else 20 MB."""
    from streamlit import config

    if config.is_manually_set("server.maxUploadSize"):
        return int(config.get_option("server.maxUploadSize"))
    return MAX_UPLOAD_MB


class UploadError(ValueError):
    """An upload that cannot be used; the message names the file and the reason."""


@dataclass
class ImageUpload:
    name: str
    data: bytes
    image: Image.Image  # decoded, RGB
    format: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def read_image_upload(uploaded: Any, max_bytes: int | None = None, max_pixels: int = 89_478_485) -> ImageUpload:
    """Check an ``st.file_uploader`` file: size (default: the server's upload limit), then a full decode."""
    max_bytes = upload_limit_mb() * 1024 * 1024 if max_bytes is None else max_bytes
    name = str(getattr(uploaded, "name", "upload"))
    size = int(getattr(uploaded, "size", 0) or 0)
    if size > max_bytes:
        raise UploadError(f"{name}: {_megabytes(size)} is larger than the {_megabytes(max_bytes)} limit")
    data = uploaded.getvalue()
    if len(data) > max_bytes:
        raise UploadError(f"{name}: {_megabytes(len(data))} is larger than the {_megabytes(max_bytes)} limit")
    if not data:
        raise UploadError(f"{name}: the file is empty")
    image, image_format = _decode(name, data, max_pixels)
    return ImageUpload(name=name, data=data, image=image, format=image_format)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.{0 if size % (1024 * 1024) == 0 else 2}f} MB"


def too_many_pixels(name: str, width: int, height: int, max_pixels: int) -> str:
    return (f"{name}: {width}×{height} = {width * height:,} pixels is more than the {max_pixels:,}-pixel limit; "
            f"{PIXELS_FIX}")


def _decode(name: str, data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    import io

    from PIL import Image as PILImage
    from PIL import ImageOps

    try:
        # No warnings filter (warnings.catch_warnings is not thread-safe, and Streamlit runs sessions in threads):
        # the size is checked explicitly below; a DecompressionBombWarning raised by a filter elsewhere is caught.
        with PILImage.open(io.BytesIO(data)) as opened:
            image_format = opened.format or "?"
            if opened.width * opened.height > max_pixels:
                raise UploadError(too_many_pixels(name, opened.width, opened.height, max_pixels))
            opened.load()
            rgb = (ImageOps.exif_transpose(opened) or opened).convert("RGB")
    except UploadError:
        raise
    except PILImage.UnidentifiedImageError as exc:
        raise UploadError(f"{name}: not an image (Pillow does not recognise its format)") from exc
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise UploadError(f"{name}: too many pixels for Pillow ({exc}); {PIXELS_FIX}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadError(f"{name}: the image is damaged or truncated ({exc or type(exc).__name__})") from exc
    return rgb, image_format


def save_reference_upload(library: Path, upload: ImageUpload) -> Path:
    """Write an uploaded reference under ``<library>/uploads/`` (same bytes → same file); returns its path."""
    folder = library / UPLOADS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{upload.sha256[:20]}.{_EXTENSIONS.get(upload.format, 'img')}"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(upload.data)
        tmp.replace(path)
    return path
