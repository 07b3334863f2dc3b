"""The OCR step of image ingest: read the text in each newly decoded image (runs in the decode workers).

Modes (setting ``ingest.ocr``):

- ``off``: no OCR.
- ``on``: the full read (detector, direction classifier, recogniser) on every image.
- ``auto`` (default): the detector alone on a reduced image first; the full read only where it finds text.
  Photos without text, most of a photo library, pay for the cheap pass only (figures in docs/benchmarks.md).

A failure to read one image never fails its ingest: the image is stored without OCR text and the reason
is logged.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ..models.ocr_base import OcrResult, check_ocr_mode, load_ocr_engine

if TYPE_CHECKING:
    from PIL import Image

    from ..models.ocr_base import OcrEngine

log = logging.getLogger(__name__)
# JPEGs are decoded at reduced scale for the model and thumbnails; text needs more pixels than CLIP does,
# so with OCR on, JPEGs keep at least this many pixels on their shorter side.
OCR_DRAFT_SIZE = 736


class OcrStep:
    """Reads images for one ingest run; the engine loads on the first image that needs it."""

    def __init__(self, mode: str, engine_name: str) -> None:
        self.mode = check_ocr_mode(mode)
        self.engine_name = engine_name
        self._engine: OcrEngine | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    @property
    def engine(self) -> OcrEngine:
        with self._lock:
            if self._engine is None:
                self._engine = load_ocr_engine(self.engine_name)
            return self._engine

    def __call__(self, image: Image.Image, name: str = "image") -> OcrResult | None:
        """The text of ``image`` (an empty result when it has none), or None when OCR is off or failed."""
        if not self.enabled:
            return None
        try:
            if self.mode == "auto" and not self.engine.has_text(image):
                return OcrResult((), image.width, image.height, self.engine_name)
            return self.engine.read(image)
        except MemoryError:
            log.warning("%s: OCR skipped: not enough memory for this image", name)
        except Exception as exc:  # noqa: BLE001 - one unreadable image never stops an ingest
            log.warning("%s: OCR failed (%s: %s); stored without its text", name, type(exc).__name__, exc)
        return None


def ocr_step(mode: str, engine_name: str) -> OcrStep | None:
    """The step for these settings, or None when OCR is off."""
    step = OcrStep(mode, engine_name)
    return step if step.enabled else None
