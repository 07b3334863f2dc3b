"""Conditions come from the reference itself: fitted inits, OpenCV Canny maps, transformers depth maps."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mmrag.errors import ModelNotFoundError
from mmrag.generation.base import Reference
from mmrag.generation.conditions import DepthEstimator, build_conditions, canny_map, fit_image
from mmrag.generation.loader import ModelLoader
from mmrag.generation.request import GenerationRequest


def test_fit_scales_to_cover_and_crops_the_center() -> None:
    array = np.zeros((100, 300, 3), dtype=np.uint8)
    array[:, :100] = (255, 0, 0)  # left third red, middle green, right third blue
    array[:, 100:200] = (0, 255, 0)
    array[:, 200:] = (0, 0, 255)
    fitted = np.asarray(fit_image(Image.fromarray(array), 64, 64))
    assert fitted.shape == (64, 64, 3)
    # only the middle third survives the crop (Lanczos rings by a level or two at the seams)
    assert np.abs(fitted[:, 3:-3].astype(int) - (0, 255, 0)).max() <= 2
    assert fitted[..., 2].max() < 16 and fitted[..., 0].max() < 16

    tall = fit_image(Image.fromarray(array).rotate(90, expand=True), 32, 48)
    assert tall.size == (32, 48)


def test_canny_map_is_opencv_canny_of_the_fitted_reference(astronaut: Image.Image) -> None:
    fitted = fit_image(astronaut, 64, 48)
    edges = np.asarray(canny_map(fitted, 50, 150))
    expected = cv2.Canny(np.asarray(fitted), 50, 150)
    assert edges.shape == (48, 64, 3) and (edges[..., 0] == expected).all() and (edges[..., 2] == expected).all()
    assert 0 < expected.mean() < 255 and set(np.unique(expected)) <= {0, 255}
    assert not np.array_equal(np.asarray(canny_map(fitted, 250, 500)), edges)  # thresholds matter


def test_build_conditions_per_mode(astronaut: Image.Image) -> None:
    refs = [Reference(astronaut, asset_id=3), Reference(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT))]
    both = build_conditions(GenerationRequest("x", mode="controlnet-img2img", width=48, height=32), refs)
    assert [c.reference for c in both] == refs
    for condition, ref in zip(both, refs, strict=True):
        expected = fit_image(ref.image, 48, 32)
        assert np.array_equal(np.asarray(condition.init), np.asarray(expected))
        assert np.array_equal(np.asarray(condition.control)[..., 0], cv2.Canny(np.asarray(expected), 100, 200))
    only_init = build_conditions(GenerationRequest("x", mode="img2img").resolved(), refs[:1])  # 512 by default
    assert only_init[0].control is None and only_init[0].init.size == (512, 512)
    assert build_conditions(GenerationRequest("x", mode="txt2img"), refs) == []


@pytest.fixture(scope="module")
def depth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised DPT depth model built from a config and saved to a folder."""
    from mmrag.generation.tiny import tiny_depth_model, tiny_depth_processor

    folder = tmp_path_factory.mktemp("tiny-dpt")
    tiny_depth_model(seed=1).save_pretrained(folder)
    tiny_depth_processor().save_pretrained(folder)
    return folder


def test_depth_map_from_a_saved_transformers_model(depth_dir: Path, astronaut: Image.Image, tmp_path: Path) -> None:
    loader = ModelLoader(tmp_path)
    estimator = DepthEstimator.load(str(depth_dir), loader)
    assert loader.loads == {"depth": 1} and type(estimator.model).__name__ == "DPTForDepthEstimation"
    fitted = fit_image(astronaut, 64, 48)
    depth = np.asarray(estimator(fitted))
    assert depth.shape == (48, 64, 3) and depth.dtype == np.uint8
    assert depth.min() == 0 and depth.max() == 255  # normalised to the full range
    assert np.array_equal(depth, np.asarray(estimator(fitted)))  # deterministic
    assert not np.array_equal(depth, np.asarray(estimator(fitted.rotate(180))))  # it depends on the image

    request = GenerationRequest("x", mode="controlnet", control="depth", depth_model=str(depth_dir), width=64,
                                height=48, model="tiny-test").validate()
    [condition] = build_conditions(request, [Reference(astronaut)], loader)
    assert condition.control_kind == "depth" and np.array_equal(np.asarray(condition.control), depth)
    assert loader.loads == {"depth": 2}


def test_missing_depth_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="depth model .* not found.*holding config.json"):
        DepthEstimator.load(str(tmp_path / "no-depth"))
    with pytest.raises(ModelNotFoundError, match="has no config.json"):
        DepthEstimator.load(str(tmp_path))  # a folder, but not a model
    (tmp_path / "config.json").write_text('{"model_type": "dpt"}')
    with pytest.raises(ModelNotFoundError, match="could not be loaded"):
        DepthEstimator.load(str(tmp_path))  # a config without weights
