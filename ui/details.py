"""The details panel of one library item: file facts, tags and, for generated images, their provenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from sqlalchemy import select

from .components import human_size, image_source, show_image

if TYPE_CHECKING:
    from ..catalog.db import Catalog
    from ..library import Library


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


def details_panel(lib: Library, asset_id: int, on_similar: Callable[[int], None],
                  on_close: Callable[[], None]) -> None:
    """Everything known about one item, with "More like this" and "Close" buttons."""
    try:
        asset = lib.get_asset(asset_id)
    except ValueError as exc:
        st.warning(str(exc))
        return
    with st.container(border=True, key="details"):
        picture, facts = st.columns([1, 2])
        with picture:
            show_image(image_source(lib.path, asset.path, asset.sha256))
        with facts:
            st.subheader(f"#{asset.id} · {Path(asset.path).name}")
            st.markdown(_facts_markdown(asset))
            buttons = st.container(horizontal=True)
            buttons.button("More like this", key="details.similar", icon=":material/image_search:",
                           on_click=on_similar, args=(asset.id,), type="primary")
            buttons.button("Close", key="details.close", on_click=on_close)
        if asset.kind == "generated":
            _provenance_section(lib, asset.id)
        _ocr_section(lib, asset.id, asset.path)


def _facts_markdown(asset: Any) -> str:
    dims = f"{asset.width} × {asset.height}" if asset.width and asset.height else "—"
    when = asset.taken_at or asset.created_at  # taken (EXIF or file time), else when it was added
    taken = when.strftime("%Y-%m-%d %H:%M") if when else "—"
    tags = ", ".join(f"`{t.name}`" for t in asset.tags) or "—"
    rows = [("Path", f"`{asset.path}`"), ("Kind", asset.kind), ("Size", human_size(asset.size)),
            ("Dimensions", dims), ("Format", asset.format or "—"),
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
            st.markdown(f"- {line['text']}  \n  <small>confidence {line['confidence']:.2f}</small>",
                        unsafe_allow_html=True)
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
    st.markdown(f"**Prompt:** {found.prompt}")
    if found.negative_prompt:
        st.markdown(f"**Negative prompt:** {found.negative_prompt}")
    scores = f"CLIP score {found.clip_score:.1f}" if found.clip_score is not None else ""
    st.caption(f"mode {found.mode} · seed {found.seed} · {scores}")
    if found.refs:
        st.markdown("**References and conditions**")
        for ref, column in zip(found.refs, st.columns(max(len(found.refs), 3)), strict=False):
            with column:
                label = f"#{ref['ref_asset_id']}" if ref["ref_asset_id"] else Path(ref["ref_path"]).name
                show_image(ref["ref_path"] or None, f"reference {label}")
                if ref["condition_path"]:
                    show_image(ref["condition_path"], f"{ref['role']} condition")
    with st.expander("Parameters and models"):
        st.json({"params": found.params, "models": found.models}, expanded=True)
