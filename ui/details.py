"""The details of one library item: the image, file facts, tags, OCR text and, for generated images, their
provenance. User text is escaped (never read as Markdown or LaTeX)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from sqlalchemy import select

from .components import human_size, image_source, md_escape, show_image

if TYPE_CHECKING:
    from ..catalog.db import Catalog
    from ..library import Library
    from ..retrieval.hits import Hit

FULL_PX = 1600  # the longest side of the image shown in the details dialog (and its fullscreen view)
SCORE_MEANING = ("The score is the cosine similarity between the query and the item in CLIP's embedding space: "
                 "higher is closer; only the order matters, not the value (0.3 can be a good match).")


@dataclass
class Provenance:
    """A Generation row and its references, read out of the session."""

    prompt: str
    negative_prompt: str | None
    mode: str
    seed: int
    params: dict[str, Any]
    models: dict[str, Any]
    clip_score: float | None
    ref_similarity: float | None
    refs: list[dict[str, Any]] = field(default_factory=list)  # ref_asset_id, ref_path, role, condition_path


def provenance(catalog: Catalog, asset_id: int) -> Provenance | None:
    from ..catalog.models import Generation

    with catalog.session() as session:
        row = session.execute(select(Generation).where(Generation.asset_id == int(asset_id))).scalar_one_or_none()
        if row is None:
            return None
        refs = [{"ref_asset_id": r.ref_asset_id, "ref_path": r.ref_path, "role": r.role,
                 "condition_path": r.condition_path} for r in row.refs]
        return Provenance(row.prompt, row.negative_prompt, row.mode, int(row.seed), dict(row.params or {}),
                          dict(row.models or {}), row.clip_score, row.ref_similarity, refs)


def known_tags(catalog: Catalog) -> list[str]:
    from ..catalog.models import Tag

    with catalog.session() as session:
        return list(session.execute(select(Tag.name).order_by(Tag.name)).scalars())


def details_body(lib: Library, asset_id: int, hit: Hit | None = None) -> None:
    """Everything known about one item: the image (fullscreen-able), its facts, provenance and OCR text."""
    try:
        asset = lib.get_asset(asset_id)
    except ValueError as exc:
        st.warning(md_escape(exc))
        return
    picture, facts = st.columns([3, 2])
    with picture:
        full = full_image(asset.path)
        if full is None:
            show_image(image_source(lib.path, asset.path, asset.sha256))
        else:
            st.image(full, width="content")  # natural size up to the column; fullscreen shows up to FULL_PX
            # (a data: URI, sent with the dialog: no second request that waits while the server finishes the run)
    with facts:
        st.markdown(f"**#{asset.id} · {md_escape(Path(asset.path).name)}**")
        st.markdown(_facts_markdown(asset))
        if hit is not None:
            st.caption(f"Score {hit.score:.3f}. {SCORE_MEANING}")
    if asset.kind == "generated":
        _provenance_section(lib, asset.id)
    _ocr_section(lib, asset.id, asset.path)


@st.cache_data(max_entries=64, show_spinner=False)
def _full_jpeg(path: str, mtime: float, size: int) -> str | None:
    import base64
    import io

    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            if max(opened.size) > size:
                opened.draft("RGB", (size, size))
            image = (ImageOps.exif_transpose(opened) or opened).convert("RGB")
            image.thumbnail((size, size))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=88)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def full_image(path: str, size: int = FULL_PX) -> str | None:
    """The image at ``path`` as a JPEG of at most ``size`` px a side, as a ``data:`` URI (cached), or None when
    it cannot be read."""
    try:
        return _full_jpeg(path, Path(path).stat().st_mtime, size)
    except OSError:
        return None


def _facts_markdown(asset: Any) -> str:
    dims = f"{asset.width} × {asset.height}" if asset.width and asset.height else "—"
    when = asset.taken_at or asset.created_at  # taken (EXIF or file time), else when it was added
    taken = when.strftime("%Y-%m-%d %H:%M") if when else "—"
    tags = ", ".join(md_escape(t.name) for t in asset.tags) or "—"
    rows = [("Path", md_escape(asset.path)), ("Kind", asset.kind), ("Size", human_size(asset.size)),
            ("Dimensions", dims), ("Format", md_escape(asset.format or "—")),
            ("Taken" if asset.taken_at else "Added", taken), ("Tags", tags)]
    return "\n".join(f"- **{name}:** {value}" for name, value in rows)


def _ocr_section(lib: Library, asset_id: int, path: str) -> None:
    """The text OCR read in the image: its lines with confidence, and the image with their boxes drawn."""
    from ..catalog.ocr_text import ocr_text_of

    found = ocr_text_of(lib.catalog, asset_id)
    if found is None or not found.has_text:
        return
    with st.expander(f"Text in image ({len(found.lines)} lines)"):
        for line in found.lines:
            st.markdown(f"- {md_escape(line['text'])} · confidence {line['confidence']:.2f}")
        boxed = boxes_drawn(path, [line["box"] for line in found.lines])
        if boxed is not None:
            st.image(boxed, caption="recognised lines")


def boxes_drawn(path: str, boxes: list[list[list[int]]]) -> Any:
    """The image at ``path`` with each 4-corner box outlined, or None when the file cannot be read."""
    from PIL import Image, ImageDraw, ImageOps

    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError):
        return None
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 300))
    for box in boxes:
        draw.polygon([tuple(point) for point in box], outline=(255, 40, 40), width=width)
    return image


def _provenance_section(lib: Library, asset_id: int) -> None:
    found = provenance(lib.catalog, asset_id)
    if found is None:
        st.caption("No provenance recorded for this generated image.")
        return
    st.markdown(f"**Prompt:** {md_escape(found.prompt)}")
    if found.negative_prompt:
        st.markdown(f"**Negative prompt:** {md_escape(found.negative_prompt)}")
    scores = f"CLIP score {found.clip_score:.1f}" if found.clip_score is not None else ""
    st.caption(f"mode {found.mode} · seed {found.seed} · {scores}")
    if found.refs:
        st.markdown("**References and conditions**")
        for ref, column in zip(found.refs, st.columns(max(len(found.refs), 3)), strict=False):
            with column:
                label = f"#{ref['ref_asset_id']}" if ref["ref_asset_id"] else Path(ref["ref_path"]).name
                show_image(ref["ref_path"] or None, f"reference {md_escape(label)}")
                if ref["condition_path"]:
                    show_image(ref["condition_path"], f"{md_escape(ref['role'])} condition")
    with st.expander("Parameters and models"):
        st.json({"params": found.params, "models": found.models}, expanded=True)
