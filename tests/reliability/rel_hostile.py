"""A folder of hostile inputs, each with what the library must make of it.

``expect`` is "ok" (ingested), a fragment of the skip reason the catalog must record, or ABSENT (nothing
may be recorded: the entry is not a file the library can hold).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ABSENT = "<absent>"
BIG_TEXT_BYTES = 50 * 1024 * 1024
UNREADABLE = "unreadable.jpg"


@dataclass(frozen=True)
class Case:
    name: str | bytes  # bytes: a name that is not valid UTF-8
    expect: str
    make: Callable[[Path], None]


def _photo(size: tuple[int, int] = (96, 80), mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(sum(size))
    cells = (rng.random((4, 4, 3)) * 255).astype(np.uint8)
    return Image.fromarray(cells).resize(size, Image.Resampling.BILINEAR).convert(mode)


def _encoded(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    _photo().save(buffer, fmt, **options)
    return buffer.getvalue()


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _save(image: Callable[[], Image.Image], fmt: str, **options: object) -> Callable[[Path], None]:
    return lambda path: image().save(path, fmt, **options)


def png_claiming(width: int, height: int) -> bytes:
    """A real, tiny PNG whose header claims ``width`` x ``height`` 1-bit pixels (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + (width + 7) // 8) * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _heic() -> bytes:
    """The start of an ISO-BMFF HEIC file (ftyp box, brand heic) and some payload: no decoder here."""
    ftyp = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return ftyp + os.urandom(2048)


def _animated_gif(path: Path) -> None:
    frames = [_photo().rotate(angle) for angle in (0, 90, 180)]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _palette_with_transparency(path: Path) -> None:
    image = _photo().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.save(path, "PNG", transparency=0)


def _sixteen_bit(path: Path) -> None:
    ramp = np.linspace(0, 65535, 80 * 96, dtype=np.uint16).reshape(80, 96)
    Image.fromarray(ramp).save(path, "PNG")  # mode I;16


def _pdf(encrypt: bool) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        from pypdf import PdfWriter

        writer = PdfWriter()
        writer.add_blank_page(612, 792)
        if encrypt:
            writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
        with open(path, "wb") as handle:
            writer.write(handle)
    return make


def _big_text(path: Path) -> None:
    line = b"one single line of words that never ends " * 1024
    with open(path, "wb") as handle:
        for _ in range(BIG_TEXT_BYTES // len(line) + 1):
            handle.write(line)


def _symlink(target: str) -> Callable[[Path], None]:
    return lambda path: os.symlink(target, path)


def _folder_loop(path: Path) -> None:
    path.mkdir()
    (path / "inside.png").write_bytes(_encoded("PNG"))
    os.symlink("..", path / "up")  # a directory loop: the walk must end


def cases() -> list[Case]:
    jpeg, png = _encoded("JPEG", quality=85), _encoded("PNG")
    return [
        Case("truncated.jpg", "truncated or corrupt", _bytes(jpeg[: len(jpeg) // 2])),
        Case("truncated.png", "truncated or corrupt", _bytes(png[: len(png) // 2])),
        Case("zero-bytes.jpg", "empty file", _bytes(b"")),
        Case("one-pixel.png", "ok", _save(lambda: _photo((1, 1)), "PNG")),
        Case("bomb-20000x20000.png", "image too large", _bytes(png_claiming(20_000, 20_000))),
        Case("large-scan-8000x8000.png", "ok", _save(lambda: Image.new("1", (8000, 8000), 1), "PNG")),
        Case("cmyk.jpg", "ok", _save(lambda: _photo(mode="CMYK"), "JPEG")),
        Case("sixteen-bit.png", "ok", _sixteen_bit),
        Case("palette-transparent.png", "ok", _palette_with_transparency),
        Case("animated.gif", "ok", _animated_gif),
        Case("drawing.svg", "unsupported file type (.svg)", _bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')),
        Case("phone.heic", "no HEIF decoder", _bytes(_heic())),
        Case("png-named.jpg", "ok", _bytes(png)),
        Case("jpeg-named.png", "ok", _bytes(jpeg)),
        Case("no-extension-photo", "ok", _bytes(jpeg)),
        Case("README", "unsupported file type (no extension)", _bytes(b"just some notes\n")),
        Case(UNREADABLE, "Permission denied", _bytes(jpeg)),
        Case("self-loop.jpg", "Too many levels of symbolic links", _symlink("self-loop.jpg")),
        Case("dangling.jpg", "broken symbolic link", _symlink("nowhere.jpg")),
        Case("loop-folder", ABSENT, _folder_loop),
        Case(b"caf\xe9-latin1.jpg", "not valid UTF-8", _bytes(jpeg)),
        Case("blank.pdf", "no extractable text", _pdf(encrypt=False)),
        Case("encrypted.pdf", "encrypted PDF", _pdf(encrypt=True)),
        Case("binary.txt", "binary", _bytes(b"\x00\x01\x02\xff" * 4096)),
        Case("one-line-50MB.txt", "text document too large", _big_text),
        Case("notes.txt", "ok", _bytes(b"Reliability notes: the library survives power cuts.\n" * 20)),
    ]


def make_hostile(root: Path) -> dict[str, str]:
    """Write every case under ``root``; returns {catalog path: expectation}."""
    root.mkdir(parents=True, exist_ok=True)
    expected = {}
    for case in cases():
        raw = os.fsencode(root) + b"/" + (case.name if isinstance(case.name, bytes) else os.fsencode(case.name))
        case.make(Path(os.fsdecode(raw)))
        expected[raw.decode("utf-8", "backslashreplace")] = case.expect  # how the catalog shows the name
    os.chmod(root / UNREADABLE, 0)
    expected[(root / "loop-folder" / "inside.png").as_posix()] = "ok"
    return expected
