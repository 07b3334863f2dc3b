"""OCR text of image assets (``ocr_texts`` rows): writing it in the ingest transaction, reading it for search.

Every write marks the ``ocr`` generation as changed, so the OCR text's BM25 index is rebuilt before the next
search that uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import OCR_SPACE, OK, Asset, OcrText

# Text-model vectors of the OCR text (``vectors`` rows, item id = asset id; ``ingest.ocr_vectors``).
OCR_TEXT_SPACE = "ocr_text"

if TYPE_CHECKING:
    from ..models.ocr_base import OcrResult
    from .db import Catalog


def put_ocr(session: Session, catalog: Catalog, asset_id: int, result: OcrResult) -> None:
    """Insert or replace the OCR text of one asset (an empty result records "read, no text").

    Boxes are stored in the asset's own pixels: an image read at a reduced decode size (large JPEGs) has its
    boxes scaled up to the asset's width and height."""
    asset = session.get(Asset, asset_id)
    read_side = max(result.width, result.height)
    own_side = max(asset.width or 0, asset.height or 0) if asset is not None else 0
    scale = own_side / read_side if own_side and read_side else 1.0  # uniform: EXIF turns swap the sides
    session.execute(delete(OcrText).where(OcrText.asset_id == asset_id))
    session.add(OcrText(asset_id=asset_id, engine=result.engine, text=result.text,
                        lines=[_scaled(line.to_dict(), scale) for line in result.lines],
                        confidence=round(result.confidence, 4), has_text=bool(result)))
    catalog.mark_changed(session, OCR_SPACE)


def _scaled(line: dict[str, Any], scale: float) -> dict[str, Any]:
    if abs(scale - 1.0) < 1e-9:
        return line
    return {**line, "box": [[round(x * scale), round(y * scale)] for x, y in line["box"]]}


def copy_ocr(session: Session, catalog: Catalog, asset_id: int, source_id: int) -> None:
    """Give a copy of an image (same content) the OCR text of its source, if the source was read."""
    source = session.get(OcrText, source_id)
    if source is None or source_id == asset_id:
        return
    session.execute(delete(OcrText).where(OcrText.asset_id == asset_id))
    session.add(OcrText(asset_id=asset_id, engine=source.engine, text=source.text, lines=list(source.lines),
                        confidence=source.confidence, has_text=source.has_text))
    catalog.mark_changed(session, OCR_SPACE)


def ocr_texts(catalog: Catalog) -> tuple[np.ndarray, list[str]]:
    """Asset ids and text of every searchable asset whose OCR found text (for the BM25 index)."""
    with catalog.session() as session:
        rows = session.execute(
            select(OcrText.asset_id, OcrText.text)
            .join(Asset, Asset.id == OcrText.asset_id)
            .where(OcrText.has_text.is_(True), Asset.status == OK)
            .order_by(OcrText.asset_id)
        ).all()
    return np.asarray([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]


def ocr_lines(catalog: Catalog, asset_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The recognised lines (text, confidence, box) of each asset that has any."""
    if not asset_ids:
        return {}
    with catalog.session() as session:
        rows = session.execute(
            select(OcrText.asset_id, OcrText.lines).where(OcrText.asset_id.in_(list(asset_ids)),
                                                          OcrText.has_text.is_(True))
        ).all()
    return {int(asset_id): list(lines or []) for asset_id, lines in rows}


def ocr_text_of(catalog: Catalog, asset_id: int) -> OcrText | None:
    with catalog.session() as session:
        return session.get(OcrText, int(asset_id))
