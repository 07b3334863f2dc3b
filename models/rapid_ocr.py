"""RapidOCR (PP-OCRv4 detection, direction classifier and Chinese + English recognition on onnxruntime).

The weights ship inside the ``rapidocr-onnxruntime`` wheel (Apache-2.0): nothing is downloaded. Rotated
lines are read: the detector finds tilted boxes, crops are straightened, tall crops turned 90° and the
direction classifier turns upside-down lines (180°) before recognition.

Line crops lower than the recogniser's input height are enlarged (bicubic) before it reads them: its own
bilinear stretch blurs the gaps between words, and it then drops the spaces of English lines (a 200 dpi scan
read "Binarydistributionsof Rareavailable"; enlarged first: "Binary distributions of R are available"). The
recogniser's input stays the same size, so this costs no recognition time.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from .ocr_base import OcrResult, TextBox

if TYPE_CHECKING:
    from PIL import Image

# The full read works on images whose longer side is at most this (RapidOCR's own limit); larger images
# are reduced first, which also bounds memory for huge inputs.
MAX_SIDE = 2000
# The cheap "is there text?" pass runs the detector on the image reduced to this longer side.
PROBE_SIDE = 640
MIN_SIDE = 8  # smaller images cannot hold legible text
MIN_CONFIDENCE = 0.5  # recognised lines below this score are dropped (RapidOCR's text_score)
MIN_WORD_CHARS = 2  # lines with fewer letters/digits ("®", a lone "G" on a texture) are noise, not text


class RapidOcrEngine:
    """Thread-safe: onnxruntime sessions may be run from several threads at once."""

    name = "rapidocr"

    def __init__(self, threads: int = 0) -> None:
        from rapidocr_onnxruntime import RapidOCR
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector

        options: dict[str, Any] = {"text_score": MIN_CONFIDENCE, "max_side_len": MAX_SIDE}
        if threads > 0:
            options.update(det_intra_op_num_threads=threads, cls_intra_op_num_threads=threads,
                           rec_intra_op_num_threads=threads)
        self._ocr = RapidOCR(**options)
        self._ocr.text_rec = EnlargingRecognizer(self._ocr.text_rec)
        probe_config = {**_det_config(threads), "limit_type": "max", "limit_side_len": PROBE_SIDE}
        self._probe = TextDetector(probe_config)
        self._lock = threading.Lock()  # RapidOCR's __call__ is re-entrant; this only guards lazy state

    def has_text(self, image: Image.Image) -> bool:
        if min(image.size) < MIN_SIDE:
            return False
        small = _bgr(_reduced(image, PROBE_SIDE))
        boxes, _ = self._probe(small)
        return boxes is not None and len(boxes) > 0

    def read(self, image: Image.Image) -> OcrResult:
        if min(image.size) < MIN_SIDE:
            return OcrResult((), image.width, image.height, self.name)
        reduced = _reduced(image, MAX_SIDE)
        scale = image.width / reduced.width
        found, _ = self._ocr(_bgr(reduced))
        lines = [_line(box, text, score, scale) for box, text, score in found or ()
                 if sum(ch.isalnum() for ch in str(text)) >= MIN_WORD_CHARS]
        return OcrResult(tuple(lines), image.width, image.height, self.name)


class EnlargingRecognizer:
    """RapidOCR's recogniser, given line crops at least its input height tall (smaller ones enlarged)."""

    def __init__(self, recognizer: Any) -> None:
        self._recognizer = recognizer
        self.height = int(recognizer.rec_image_shape[1])  # 48 for PP-OCRv4

    def __call__(self, crops: Any, return_word_box: bool = False) -> Any:
        if isinstance(crops, np.ndarray):
            crops = [crops]
        return self._recognizer([self._enlarged(crop) for crop in crops], return_word_box)

    def _enlarged(self, crop: np.ndarray) -> np.ndarray:
        import cv2

        height, width = crop.shape[:2]
        if not 0 < height < self.height:
            return crop
        size = (max(1, round(width * self.height / height)), self.height)
        return cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)


def _det_config(threads: int) -> dict[str, Any]:
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
    from rapidocr_onnxruntime.utils import read_yaml, update_model_path

    config = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Det"]
    if threads > 0:
        config["intra_op_num_threads"] = threads
    return dict(config)


def _reduced(image: Image.Image, side: int) -> Image.Image:
    from PIL import Image as PILImage

    if max(image.size) <= side:
        return image
    ratio = side / max(image.size)
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    return image.resize(size, PILImage.Resampling.BILINEAR, reducing_gap=2.0)


def _bgr(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _line(box: Any, text: Any, score: Any, scale: float) -> TextBox:
    corners = tuple((round(float(x) * scale), round(float(y) * scale)) for x, y in box)
    return TextBox(" ".join(str(text).split()), float(score), corners)
