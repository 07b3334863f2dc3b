"""Duplicate signatures of images (``image_features`` rows): the type, and reading/writing it.

The signature is computed in ``ingest.hashes``; the duplicate cascade in ``retrieval.duplicates`` reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import ImageFeatures

# Bump when the signature's computation changes: older rows are then recomputed lazily.
SIGNATURE_VERSION = 1


@dataclass(frozen=True)
class ImageSignature:
    pixel_sha: str
    phashes: bytes  # 8 x 8 bytes, one pHash per symmetry of the square (ingest.hashes.DIHEDRAL)
    small: np.ndarray  # uint8 (h, w, 3) RGB, longest side ingest.hashes.SMALL_SIDE

    @property
    def grey(self) -> np.ndarray:
        """The small copy in grey (ITU-R 601 luma, as PIL's convert("L")), float32."""
        return self.small.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)
    colour: np.ndarray  # float32 (6,): mean R, G, B, std R, G, B on 0..255
    analysis_size: tuple[int, int]  # (width, height) of the image the keypoints were found in
    keypoints: np.ndarray  # float32 (n, 2)
    descriptors: np.ndarray  # uint8 (n, 32)


def put_signature(session: Session, asset_id: int, sha256: str, signature: ImageSignature) -> None:
    """Insert or replace the signature row of ``asset_id`` (computed from content ``sha256``)."""
    session.execute(delete(ImageFeatures).where(ImageFeatures.asset_id == asset_id))
    small = np.ascontiguousarray(signature.small, dtype=np.uint8)
    session.add(ImageFeatures(
        asset_id=asset_id, sha256=sha256, version=SIGNATURE_VERSION, pixel_sha=signature.pixel_sha,
        phashes=signature.phashes, small_width=small.shape[1], small_height=small.shape[0], small=small.tobytes(),
        colour=np.asarray(signature.colour, dtype="<f4").tobytes(),
        analysis_width=signature.analysis_size[0], analysis_height=signature.analysis_size[1],
        keypoints=np.asarray(signature.keypoints, dtype="<f4").tobytes(),
        descriptors=np.asarray(signature.descriptors, dtype=np.uint8).tobytes(),
    ))


def load_signatures(session: Session, asset_ids: Sequence[int]) -> dict[int, tuple[str, ImageSignature]]:
    """Current-version signatures by asset id, each with the content sha256 it was computed from."""
    found: dict[int, tuple[str, ImageSignature]] = {}
    ids = list(asset_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(select(ImageFeatures).where(
            ImageFeatures.asset_id.in_(ids[start : start + 500]), ImageFeatures.version == SIGNATURE_VERSION,
        )).scalars()
        for row in rows:
            found[row.asset_id] = (row.sha256, _signature(row))
    return found


def _signature(row: ImageFeatures) -> ImageSignature:
    return ImageSignature(
        pixel_sha=row.pixel_sha,
        phashes=row.phashes,
        small=np.frombuffer(row.small, dtype=np.uint8).reshape(row.small_height, row.small_width, 3),
        colour=np.frombuffer(row.colour, dtype="<f4"),
        analysis_size=(row.analysis_width, row.analysis_height),
        keypoints=np.frombuffer(row.keypoints, dtype="<f4").reshape(-1, 2),
        descriptors=np.frombuffer(row.descriptors, dtype=np.uint8).reshape(-1, 32),
    )
