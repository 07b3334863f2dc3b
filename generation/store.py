"""Storing outputs: PNGs under ``<library>/generated/``, condition maps under ``generated/conditions/``, and in
ONE catalog transaction per request an Asset (kind "generated"), a Generation and its GenerationRefs per image,
plus its CLIP vector; the image index is updated and saved after the commit, so outputs are searchable at once,
and each output gets its thumbnail as an ingested image does.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..catalog.models import GENERATED, IMAGE_SPACE, OK, Asset, Generation, GenerationRef
from ..ingest.images import thumbnail_path
from ..ingest.jobs import write_thumbnail
from .base import Condition, GeneratedImage
from .provenance import build_metadata, save_png

if TYPE_CHECKING:
    from PIL import Image

    from ..components import Components
    from .request import GenerationRequest

GENERATED_DIR = "generated"
CONDITIONS_DIR = "conditions"


def generated_dir(components: Components) -> Path:
    return Path(components.settings.library) / GENERATED_DIR


def conditions_dir(components: Components) -> Path:
    return generated_dir(components) / CONDITIONS_DIR


def save_conditions(components: Components, conditions: list[Condition]) -> None:
    """Save each init/control map (content-addressed, so identical maps are stored once) and every in-memory
    reference image, recording their paths on the conditions/references."""
    folder = conditions_dir(components)
    for condition in conditions:
        reference = condition.reference
        if reference.path is None:
            reference.path = _save_content(folder, "ref", reference.image)
        if condition.init is not None:
            condition.init_path = _save_content(folder, "init", condition.init)
        if condition.control is not None:
            condition.control_path = _save_content(folder, condition.control_kind or "control", condition.control)


def _save_content(folder: Path, prefix: str, image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()[:20]
    path = folder / f"{prefix}-{digest}.png"
    if not path.is_file():
        save_png(image, path)
    return path.resolve().as_posix()


def store_outputs(
    components: Components,
    outputs: list[GeneratedImage],
    vectors: np.ndarray,
    request: GenerationRequest,
    models: dict[str, str],
    sampler: str,
) -> None:
    """Write the PNGs, then every catalog row and vector in one transaction, then add to the image index."""
    from ..catalog.vectors import put_vectors

    params = {**request.to_params(), "sampler": sampler}
    written: list[dict[str, Any]] = []
    try:
        for output in outputs:
            written.append(_write_output(components, output, request, params, models, sampler))
        with components.catalog.session() as session:
            for output, facts in zip(outputs, written, strict=True):
                asset = Asset(kind=GENERATED, status=OK, format="PNG", title=request.prompt[:200], **facts)
                session.add(asset)
                session.flush()
                generation = _generation_row(asset.id, output, request, params, models)
                session.add(generation)
                session.flush()
                output.asset_id, output.generation_id = asset.id, generation.id
            ids = [int(o.asset_id) for o in outputs]  # type: ignore[arg-type]
            shas = [facts["sha256"] for facts in written]
            put_vectors(session, components.catalog, IMAGE_SPACE, ids, vectors, model=components.clip.fingerprint,
                        content_sha256=shas)
    except BaseException:
        for facts in written:
            Path(facts["path"]).unlink(missing_ok=True)
        for output in outputs:
            output.path = output.asset_id = output.generation_id = None
        raise
    for output, facts in zip(outputs, written, strict=True):
        write_thumbnail(output.image, thumbnail_path(components.path, facts["sha256"]),
                        components.settings.ingest.thumbnail_size)
    components.indexes.add(IMAGE_SPACE, np.asarray(ids, dtype=np.int64), np.asarray(vectors, dtype=np.float32))
    if components.indexes.writable:  # as ingest and trash do: the index file stays level with the catalog
        components.indexes.save(IMAGE_SPACE)


def _write_output(
    components: Components,
    output: GeneratedImage,
    request: GenerationRequest,
    params: dict[str, Any],
    models: dict[str, str],
    sampler: str,
) -> dict[str, Any]:
    metadata = build_metadata(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        mode=request.mode,
        seed=output.seed,
        params=params,
        models=models,
        references=output.references,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = generated_dir(components) / f"{stamp}-{uuid.uuid4().hex[:8]}-s{output.seed}.png"
    save_png(output.image, path, metadata, sampler)
    output.path = path.resolve().as_posix()
    return file_facts(Path(output.path))


def file_facts(path: Path) -> dict[str, Any]:
    """The Asset columns describing a file on disk."""
    from PIL import Image as PILImage

    data = path.read_bytes()
    stat = path.stat()
    with PILImage.open(path) as image:
        width, height = image.size
    return {
        "path": path.as_posix(),
        "folder": path.parent.as_posix(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": stat.st_size,
        "mtime": stat.st_mtime,
        "width": width,
        "height": height,
    }


def _generation_row(
    asset_id: int,
    output: GeneratedImage,
    request: GenerationRequest,
    params: dict[str, Any],
    models: dict[str, str],
) -> Generation:
    generation = Generation(
        asset_id=asset_id,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        mode=request.mode,
        seed=output.seed,
        params=params,
        models=models,
        clip_score=output.clip_score,
        ref_similarity=output.ref_similarity,
    )
    generation.refs = [ref for condition in output.conditions for ref in _ref_rows(condition)]
    if not output.conditions:  # txt2img: references only used for ref_similarity
        generation.refs = [
            GenerationRef(ref_asset_id=r.asset_id, ref_path=r.path or "", role="reference") for r in output.references
        ]
    return generation


def _ref_rows(condition: Condition) -> list[GenerationRef]:
    reference = condition.reference
    rows = []
    if condition.init is not None:
        rows.append(GenerationRef(ref_asset_id=reference.asset_id, ref_path=reference.path or "", role="init",
                                  condition_path=condition.init_path))
    if condition.control is not None:
        rows.append(GenerationRef(ref_asset_id=reference.asset_id, ref_path=reference.path or "", role="control",
                                  condition_path=condition.control_path))
    return rows
