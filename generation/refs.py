"""Turning what the caller gave (search hits, asset ids, paths, PIL images, a text query) into References."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .base import LibraryLike, Reference

if TYPE_CHECKING:
    from PIL import Image

IMAGE_KINDS = ("image", "generated")


def resolve_references(
    lib: LibraryLike,
    *,
    refs: Any = None,
    like: str | None = None,
    k: int = 1,
    ref_ids: Sequence[int] | None = None,
    ref_images: Sequence[Any] | None = None,
) -> list[Reference]:
    """References in the order given: ``refs``, then ``ref_ids``, ``ref_images``, then the hits of ``like``."""
    found: list[Reference] = []
    for item in _as_list(refs):
        found.append(_from_item(lib, item))
    for asset_id in ref_ids or ():
        found.append(_from_asset_id(lib, asset_id))
    for item in _as_list(ref_images):
        found.append(_from_item(lib, item))
    if like:
        if k < 1:
            raise ValueError(f"k must be ≥ 1, got {k}")
        hits = [h for h in lib.search_text(like, k=k) if getattr(h, "kind", "image") in IMAGE_KINDS]
        found.extend(_from_hit(lib, hit) for hit in hits)
    return found


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike, int)) or hasattr(value, "convert") or _is_hit(value):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def _is_hit(value: Any) -> bool:
    return hasattr(value, "id") and hasattr(value, "path") and hasattr(value, "score")


def _from_item(lib: LibraryLike, item: Any) -> Reference:
    if _is_hit(item):
        return _from_hit(lib, item)
    if isinstance(item, bool):
        raise TypeError(f"a reference must be a Hit, an asset id, a path or a PIL image, got {item!r}")
    if isinstance(item, int):
        return _from_asset_id(lib, item)
    if isinstance(item, (str, os.PathLike)):
        return _from_path(lib, Path(item))
    if hasattr(item, "convert") and hasattr(item, "size"):
        return Reference(image=item.convert("RGB"))
    raise TypeError(f"a reference must be a Hit, an asset id, a path or a PIL image, got {type(item).__name__}")


def _from_hit(lib: LibraryLike, hit: Any) -> Reference:
    kind = getattr(hit, "kind", "image")
    if kind not in IMAGE_KINDS:
        raise ValueError(f"reference #{hit.id} is a {kind} ({hit.path!r}), not an image")
    return Reference(image=load_image(hit.path), asset_id=int(hit.id), path=str(hit.path), score=float(hit.score))


def _from_asset_id(lib: LibraryLike, asset_id: int) -> Reference:
    try:
        asset = lib.get_asset(int(asset_id))
    except (KeyError, LookupError) as exc:
        raise ValueError(f"no asset with id {asset_id!r} in the library") from exc
    if asset is None:
        raise ValueError(f"no asset with id {asset_id!r} in the library")
    if asset.kind not in IMAGE_KINDS:
        raise ValueError(f"asset {asset_id!r} is a {asset.kind} ({asset.path!r}), not an image")
    return Reference(image=load_image(asset.path), asset_id=int(asset.id), path=asset.path)


def _from_path(lib: LibraryLike, path: Path) -> Reference:
    path = path.expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"reference image {str(path)!r} does not exist")
    resolved = path.resolve().as_posix()
    return Reference(image=load_image(resolved), asset_id=_asset_id_of(lib, resolved), path=resolved)


def _asset_id_of(lib: LibraryLike, path: str) -> int | None:
    """The catalog id of a file that is already in the library, so provenance can link it."""
    from sqlalchemy import select

    from ..catalog.models import Asset

    with lib.catalog.session() as session:
        return session.execute(select(Asset.id).where(Asset.path == path)).scalar_one_or_none()


def load_image(path: str | Path) -> Image.Image:
    """Decode an image file to RGB (EXIF orientation applied); unreadable files raise InputError."""
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with PILImage.open(path) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, PILImage.DecompressionBombError) as exc:
        raise InputError(f"cannot read reference image {str(path)!r}: {exc}") from exc
