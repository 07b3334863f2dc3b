"""Turning what the caller gave (search hits, asset ids, paths, PIL images, a text query) into References."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog.models import IMAGE_KINDS
from ..errors import InputError
from ..retrieval.search import get_asset, search_images
from .base import Reference

if TYPE_CHECKING:
    from PIL import Image

    from ..components import Components


@dataclass(frozen=True)
class ReferenceSources:
    """Where a generation's reference images come from, resolved in this order: ``refs`` (Hits, asset ids,
    paths or PIL images), ``ref_ids``, ``ref_images``, then the ``k`` nearest images of the text ``like``."""

    refs: Any = None
    like: str | None = None
    k: int = 1
    ref_ids: Sequence[int] | None = None
    ref_images: Sequence[Any] | None = None


def resolve_references(components: Components, sources: ReferenceSources) -> list[Reference]:
    """References in the order ``sources`` gives them."""
    found: list[Reference] = []
    for item in _as_list(sources.refs):
        found.append(_from_item(components, item))
    for asset_id in sources.ref_ids or ():
        found.append(_from_asset_id(components, asset_id))
    for item in _as_list(sources.ref_images):
        found.append(_from_item(components, item))
    if sources.like:
        if sources.k < 1:
            raise ValueError(f"k must be ≥ 1, got {sources.k}")
        hits = [h for h in search_images(components, sources.like, k=sources.k)
                if getattr(h, "kind", "image") in IMAGE_KINDS]
        found.extend(_from_hit(components, hit) for hit in hits)
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


def _from_item(components: Components, item: Any) -> Reference:
    if _is_hit(item):
        return _from_hit(components, item)
    if isinstance(item, bool):
        raise TypeError(f"a reference must be a Hit, an asset id, a path or a PIL image, got {item!r}")
    if isinstance(item, int):
        return _from_asset_id(components, item)
    if isinstance(item, (str, os.PathLike)):
        return _from_path(components, Path(item))
    if hasattr(item, "convert") and hasattr(item, "size"):
        return Reference(image=item.convert("RGB"))
    raise TypeError(f"a reference must be a Hit, an asset id, a path or a PIL image, got {type(item).__name__}")


def _from_hit(components: Components, hit: Any) -> Reference:
    kind = getattr(hit, "kind", "image")
    if kind not in IMAGE_KINDS:
        raise ValueError(f"reference #{hit.id} is a {kind} ({hit.path!r}), not an image")
    return Reference(image=load_image(hit.path), asset_id=int(hit.id), path=str(hit.path), score=float(hit.score))


def _from_asset_id(components: Components, asset_id: int) -> Reference:
    try:
        asset = get_asset(components.catalog, int(asset_id))
    except (KeyError, LookupError) as exc:
        raise ValueError(f"no asset with id {asset_id!r} in the library") from exc
    if asset is None:
        raise ValueError(f"no asset with id {asset_id!r} in the library")
    if asset.kind not in IMAGE_KINDS:
        raise ValueError(f"asset {asset_id!r} is a {asset.kind} ({asset.path!r}), not an image")
    return Reference(image=load_image(asset.path), asset_id=int(asset.id), path=asset.path)


def _from_path(components: Components, path: Path) -> Reference:
    path = path.expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"reference image {str(path)!r} does not exist")
    resolved = path.resolve().as_posix()
    return Reference(image=load_image(resolved), asset_id=_asset_id_of(components, resolved), path=resolved)


def _asset_id_of(components: Components, path: str) -> int | None:
    """The catalog id of a file that is already in the library, so provenance can link it."""
    from sqlalchemy import select

    from ..catalog.models import Asset

    with components.catalog.session() as session:
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
