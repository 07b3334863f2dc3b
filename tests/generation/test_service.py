"""``generate`` end to end on a library: references → conditions → tiny-test pipeline → checks → provenance."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from mmrag.catalog.models import Asset, Generation, GenerationRef, Vector
from mmrag.catalog.vectors import load_vectors
from mmrag.doctor import diagnose
from mmrag.generation.conditions import fit_image
from mmrag.generation.provenance import read_png_metadata, read_png_parameters
from mmrag.generation.refs import load_image
from mmrag.generation.request import GenerationRequest as Request
from mmrag.ingest.images import thumbnail_path

FAST = {"model": "tiny-test", "steps": 3, "strength": 0.7, "width": 32, "height": 32}


def count(lib, model) -> int:
    with lib.catalog.session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_img2img_outputs_are_stored_with_provenance(lib) -> None:
    ref_hit = lib.search_text("an astronaut", k=1)[0]
    request = Request("a watercolor astronaut", n=2, seed=5, negative_prompt="blurry", **FAST)
    result = lib.generate(request, refs=[ref_hit])

    assert [g.seed for g in result.images] == [5, 6] and result.seed == 5
    assert [r.asset_id for r in result.references] == [ref_hit.id]
    assert set(result.timings) >= {"validate", "references", "conditions", "load", "denoise", "checks", "store"}
    library = Path(lib.settings.library)
    with lib.catalog.session() as session:
        for output in result.images:
            asset = session.get(Asset, output.asset_id)
            path = Path(asset.path)
            assert asset.kind == "generated" and asset.status == "ok" and asset.format == "PNG"
            assert path.parent == library / "generated" and path.is_file() and asset.folder == path.parent.as_posix()
            assert (asset.width, asset.height, asset.size) == (32, 32, path.stat().st_size) and len(asset.sha256) == 64
            generation = session.execute(select(Generation).where(Generation.asset_id == asset.id)).scalar_one()
            assert (generation.prompt, generation.negative_prompt, generation.seed) == (
                "a watercolor astronaut", "blurry", output.seed)
            assert generation.params["strength"] == 0.7 and generation.params["steps"] == 3
            assert generation.models["model"] == "tiny-test"
            assert generation.clip_score == output.clip_score and 0 <= generation.clip_score <= 100
            assert generation.ref_similarity == output.ref_similarity and -1 <= generation.ref_similarity <= 1
            [ref] = generation.refs
            assert (ref.ref_asset_id, ref.ref_path, ref.role) == (ref_hit.id, ref_hit.path, "init")
            init = np.asarray(Image.open(ref.condition_path))
            assert Path(ref.condition_path).parent == library / "generated" / "conditions"
            assert np.array_equal(init, np.asarray(fit_image(load_image(ref_hit.path), 32, 32)))
            meta = read_png_metadata(path)
            assert meta["seed"] == output.seed and meta["refs"] == [{"asset_id": ref_hit.id, "path": ref_hit.path}]
            assert meta["negative_prompt"] == "blurry" and meta["models"]["model"] == "tiny-test"
            assert f"Seed: {output.seed}" in read_png_parameters(path)


def test_outputs_are_embedded_indexed_and_searchable(lib) -> None:
    result = lib.generate(Request("a red rocket", seed=1, **FAST), ref_ids=[lib.search_text("a rocket", k=1)[0].id])
    output = result.images[0]
    ids, vectors = load_vectors(lib.catalog, "image", [output.asset_id])
    assert list(ids) == [output.asset_id]
    expected = lib.clip.embed_images([Image.open(output.path)])[0]
    assert np.allclose(vectors[0], expected, atol=2e-3)  # stored as float16
    with lib.catalog.session() as session:
        row = session.execute(select(Vector).where(Vector.item_id == output.asset_id)).scalar_one()
        assert row.model == lib.clip.fingerprint and row.content_sha256 == session.get(Asset, output.asset_id).sha256
    hits = lib.search_image(Image.open(output.path), k=1)
    assert hits[0].id == output.asset_id and hits[0].kind == "generated"
    with lib.catalog.session() as session:
        sha256 = session.get(Asset, output.asset_id).sha256
    assert thumbnail_path(lib.path, sha256).is_file()  # as for an ingested image
    problems = [f.message for f in diagnose(lib).findings if f.check in ("index", "thumbnail")]
    assert problems == []  # the index file was saved level with the catalog: nothing for doctor to warn about

    again = lib.generate(Request("a red rocket, again", seed=2, **FAST), refs=[output.asset_id])  # output as ref
    assert again.references[0].asset_id == output.asset_id


def test_controlnet_from_a_text_query_links_the_canny_map(lib) -> None:
    request = Request("product shot", mode="controlnet", control="canny", seed=7, control_low=50, control_high=150,
                      **FAST)
    result = lib.generate(request, like="a cat", k=2)
    hits = lib.search_text("a cat", k=2)
    assert [r.asset_id for r in result.references] == [h.id for h in hits]
    assert len(result.images) == 2  # combine="each": one output per reference
    with lib.catalog.session() as session:
        for output, hit in zip(result.images, hits, strict=True):
            generation = session.execute(select(Generation).where(Generation.asset_id == output.asset_id)).scalar_one()
            [ref] = generation.refs
            assert (ref.ref_asset_id, ref.role) == (hit.id, "control")
            edges = np.asarray(Image.open(ref.condition_path))[..., 0]
            expected = cv2.Canny(np.asarray(fit_image(load_image(hit.path), 32, 32)), 50, 150)
            assert np.array_equal(edges, expected)
            assert generation.params["control_low"] == 50 and generation.models["controlnet"] == "tiny-test"


def test_fixed_seed_reproduces_bit_identical_images(lib, photo_files: list[Path]) -> None:
    request = Request("a cat in winter", mode="controlnet-img2img", seed=123, **FAST)
    first = lib.generate(request, ref_images=[photo_files[1]])
    second = lib.generate(request, ref_images=[photo_files[1]])
    assert first.images[0].path != second.images[0].path
    assert np.array_equal(np.asarray(Image.open(first.images[0].path)), np.asarray(Image.open(second.images[0].path)))
    assert first.references[0].asset_id is not None  # a file already in the library is linked by id
    with lib.catalog.session() as session:
        generation = session.execute(
            select(Generation).where(Generation.asset_id == first.images[0].asset_id)).scalar_one()
        assert sorted(r.role for r in generation.refs) == ["control", "init"]


def test_bad_parameters_fail_before_any_model_is_loaded(lib) -> None:
    loads, assets = lib.components.generators.loader.loads, count(lib, Asset)
    with pytest.raises(ValueError, match=r"gives int\(0\.3\) = 0 denoising steps"):
        lib.generate(Request("x", model="tiny-test", steps=3, strength=0.1), like="a cat")
    with pytest.raises(ValueError, match="width must be a multiple of 8, got 500"):
        lib.generate(Request("x", model="tiny-test", width=500), like="a cat")
    with pytest.raises(ValueError, match="mode 'controlnet' needs at least one reference image"):
        lib.generate(Request("x", mode="controlnet", model="tiny-test"))
    with pytest.raises(ValueError, match="unknown scheduler 'karras'"):
        lib.generate(Request("x", model="tiny-test", scheduler="karras"), like="a cat")
    assert sum(loads.values()) == 0 and count(lib, Asset) == assets and count(lib, Generation) == 0


def test_in_memory_reference_and_txt2img(lib, astronaut: Image.Image) -> None:
    result = lib.generate(Request("an astronaut", mode="img2img", seed=3, **FAST), refs=astronaut)
    ref_path = Path(result.references[0].path)
    assert ref_path.parent == Path(lib.settings.library) / "generated" / "conditions" and ref_path.is_file()
    assert result.references[0].asset_id is None
    text_only = lib.generate(Request("an astronaut", mode="txt2img", seed=3, **FAST))
    assert text_only.images[0].ref_similarity is None and text_only.images[0].clip_score is not None
    with lib.catalog.session() as session:
        assert count(lib, GenerationRef) == 1 and session.execute(select(GenerationRef.role)).scalar_one() == "init"


def test_store_false_writes_nothing(lib) -> None:
    result = lib.generate(Request("x", seed=1, **FAST), like="a cat", store=False)
    assert result.images[0].path is None and result.images[0].asset_id is None
    assert count(lib, Asset) == 3 and not (Path(lib.settings.library) / "generated").exists()


def test_a_failed_transaction_leaves_no_rows_and_no_files(lib) -> None:
    from mmrag.generation.service import load_generator, plan_jobs, run_jobs
    from mmrag.generation.store import store_outputs

    request = Request("x", mode="txt2img", n=2, **FAST).validate()
    generator = load_generator(lib.components, request)
    outputs = run_jobs(generator, request, plan_jobs(request, [], [], 0), [], None)
    vectors = lib.clip.embed_images([o.image for o in outputs])[:1]  # one vector for two images: put_vectors fails
    with pytest.raises(ValueError, match="2 ids but 1 vectors"):
        store_outputs(lib.components, outputs, vectors, request, generator.models, "PLMS")
    assert count(lib, Asset) == 3 and count(lib, Generation) == 0
    assert list((Path(lib.settings.library) / "generated").glob("*.png")) == []
    assert all(o.path is None and o.asset_id is None for o in outputs)


def test_switching_modes_keeps_the_loaded_pipeline(lib) -> None:
    lib.generate(Request("x", seed=1, **FAST), like="a cat")  # img2img: no ControlNet loaded
    loads = lib.components.generators.loader.loads
    assert loads == {"pipeline": 1}
    result = lib.generate(Request("x", seed=1, mode="controlnet", **FAST), like="a cat")
    assert loads == {"pipeline": 1, "controlnet": 1}
    assert result.models["controlnet"] == "tiny-test"
    again = lib.generate(Request("x", seed=1, **FAST), like="a cat")
    assert "controlnet" not in again.models and loads == {"pipeline": 1, "controlnet": 1}
