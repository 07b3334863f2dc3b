"""PNG metadata: one JSON ``mmrag`` tEXt chunk and an A1111-style ``parameters`` chunk, written atomically."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from mmrag.generation.base import Reference
from mmrag.generation.provenance import build_metadata, read_png_metadata, read_png_parameters, save_png


def chunks(path: Path) -> list[tuple[bytes, bytes]]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        found.append((kind, body))
        offset += 12 + length
    return found


def metadata(prompt: str = "a watercolor poster of a lighthouse") -> dict:
    refs = [Reference(Image.new("RGB", (4, 4)), asset_id=42, path="/lib/photos/lighthouse.jpg")]
    return build_metadata(
        prompt=prompt, negative_prompt="blurry, text", mode="img2img", seed=7,
        params={"steps": 30, "strength": 0.6, "guidance": 7.5, "width": 512, "height": 512, "sampler": "Euler a"},
        models={"model": "./models/sd15", "lora": "./styles/ink.safetensors"}, references=refs,
    )  # fmt: skip


def test_round_trip_of_both_chunks(tmp_path: Path) -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8))
    path = save_png(image, tmp_path / "out" / "a.png", metadata(), sampler="Euler a")
    assert read_png_metadata(path) == metadata()
    assert read_png_metadata(path)["refs"] == [{"asset_id": 42, "path": "/lib/photos/lighthouse.jpg"}]
    text_chunks = {body.split(b"\0", 1)[0]: body.split(b"\0", 1)[1] for kind, body in chunks(path) if kind == b"tEXt"}
    assert set(text_chunks) == {b"mmrag", b"parameters"}
    assert text_chunks[b"parameters"].decode("latin-1") == (
        "a watercolor poster of a lighthouse\nNegative prompt: blurry, text\n"
        "Steps: 30, Sampler: Euler a, CFG scale: 7.5, Seed: 7, Size: 512x512, Model: ./models/sd15, "
        "Denoising strength: 0.6, Lora: ./styles/ink.safetensors, Mode: img2img"
    )
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(image))  # pixels untouched
    assert [p.name for p in path.parent.iterdir()] == ["a.png"]  # no temp file left behind


def test_non_latin_prompts_survive(tmp_path: Path) -> None:
    path = save_png(Image.new("RGB", (8, 8)), tmp_path / "b.png", metadata("灯台の水彩ポスター ✨"))
    assert read_png_metadata(path)["prompt"] == "灯台の水彩ポスター ✨"
    assert read_png_parameters(path).startswith("灯台の水彩ポスター ✨\n")
    kinds = [kind for kind, _ in chunks(path)]
    assert b"tEXt" in kinds and b"iTXt" in kinds  # JSON stays ASCII (tEXt); the A1111 text needs iTXt


def test_plain_png_has_no_metadata(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "c.png")
    assert read_png_metadata(tmp_path / "c.png") == {} and read_png_parameters(tmp_path / "c.png") is None
