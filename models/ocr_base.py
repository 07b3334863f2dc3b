"""Reading the text in images: one small protocol, result types, and a registry of engines picked by name.

An engine answers two questions: ``has_text`` (the cheap detector alone, run on a reduced image) and
``read`` (detection, direction classification and recognition). The ingest step uses ``has_text`` first
in ``auto`` mode, so photos without text pay for the detector only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

OCR_MODES = ("auto", "on", "off")
DEFAULT_OCR_ENGINE = "rapidocr"
# An ASCII letter run at least this long may be words OCR ran together ("stadiumcoffee"): PP-OCR's
# recogniser often drops the spaces of English lines. Such runs are searched as read and split into words.
RUN_TOGETHER = re.compile(r"[A-Za-z]{7,}")


@dataclass(frozen=True)
class TextBox:
    """One line of text: what it says, how sure the recogniser is (0..1), and its 4 corners in pixels."""

    text: str
    confidence: float
    box: tuple[tuple[int, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": round(self.confidence, 4), "box": [list(p) for p in self.box]}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> TextBox:
        return cls(str(value["text"]), float(value["confidence"]), tuple((int(x), int(y)) for x, y in value["box"]))


@dataclass(frozen=True)
class OcrResult:
    """The text found in one image, in reading order (top to bottom, left to right)."""

    lines: tuple[TextBox, ...] = ()
    width: int = 0
    height: int = 0
    engine: str = ""  # the engine that read it (recorded with the text)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        """Mean recogniser confidence weighted by line length (0 when there is no text)."""
        total = sum(len(line.text) for line in self.lines)
        if not total:
            return 0.0
        return sum(line.confidence * len(line.text) for line in self.lines) / total

    def __bool__(self) -> bool:
        return bool(self.lines)


@runtime_checkable
class OcrEngine(Protocol):
    """Text detection + recognition. Implementations are thread-safe (decode workers share one)."""

    name: str

    def has_text(self, image: Image.Image) -> bool:
        """Whether the detector finds any text region (cheap: detector only, on a reduced image)."""

    def read(self, image: Image.Image) -> OcrResult:
        """All text lines with their boxes and confidence; an empty result when there is none."""


OCR_ENGINES: dict[str, Callable[[], OcrEngine]] = {}


def register_ocr_engine(name: str, loader: Callable[[], OcrEngine]) -> None:
    OCR_ENGINES[name] = loader


def load_ocr_engine(name: str = DEFAULT_OCR_ENGINE) -> OcrEngine:
    """A new engine by name (``rapidocr``: PP-OCRv4 Chinese + English on onnxruntime)."""
    if not OCR_ENGINES:
        _register_builtin()
    try:
        loader = OCR_ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown OCR engine {name!r}; available: {sorted(OCR_ENGINES)}") from None
    return loader()


def _register_builtin() -> None:
    def rapidocr() -> OcrEngine:
        from .rapid_ocr import RapidOcrEngine

        return RapidOcrEngine()

    OCR_ENGINES.setdefault(DEFAULT_OCR_ENGINE, rapidocr)


def check_ocr_mode(mode: str) -> str:
    if mode not in OCR_MODES:
        raise ValueError(f"ocr must be one of {', '.join(OCR_MODES)}, got {mode!r}")
    return mode


def searchable_text(text: str) -> str:
    """``text`` plus the words of each run-together ASCII run (wordninja: English unigram frequencies), so
    "theatrespringphoenix" is also found as "theatre", "spring", "phoenix". What the OCR text's BM25 index
    and its text-model embedding read; the stored text stays as read."""
    runs = RUN_TOGETHER.findall(text)
    if not runs:
        return text
    import wordninja

    extra = [" ".join(words) for run in runs if len(words := wordninja.split(run)) > 1]
    return text + ("\n" + "\n".join(extra) if extra else "")
