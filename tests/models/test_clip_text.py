"""CLIP text on the real tokens only (exact), its fallback, and the ONNX text tower with its own tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmrag.models import onnx_text
from mmrag.models.clip import OpenClipEmbedder
from mmrag.models.clip_runtime import OnnxTextClip, load_clip
from mmrag.models.clip_text import short_text_tower, used_length

TEXTS = ["a", "a cat", "a red bicycle leaning on a wall", "two dogs playing in the snow at night near a frozen lake",
         " ".join(["long"] * 100)]
TRICKY = ["", "   spaces\tand\nlines  ", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "&amp;amp; &lt;b&gt; AT&T",
          "\u6771\u4eac\u30bf\u30ef\u30fc", "don't you'll we've I'm", "emoji \U0001f408\u200d\u2b1b ok",
          "<start_of_text> raw <end_of_text> tokens", "mojibake cafÃ© and \u201ccurly\u201d quotes",
          "numbers 12345 and 3.14", "UPPER lower MiXeD", "\x1b[31mred\x1b[0m", "x<end_of_text>y", "<START_OF_TEXT>"]


def reference(clip: OpenClipEmbedder, texts: list[str]) -> np.ndarray:
    with torch.inference_mode():
        out = clip.model.encode_text(clip._tokenizer(texts)).float().numpy()
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_trimmed_tower_equals_encode_text_for_each_length_and_a_mixed_batch(tiny_clip) -> None:
    assert tiny_clip._short_text is not None
    for text in TEXTS:
        assert cosines(tiny_clip.embed_texts([text]), reference(tiny_clip, [text]))[0] >= 0.99999, text
    assert cosines(tiny_clip.embed_texts(TEXTS), reference(tiny_clip, TEXTS)).min() >= 0.99999


def test_used_length_is_the_longest_eot_plus_one(tiny_clip) -> None:
    ids = tiny_clip._tokenizer(["a cat", "a red bicycle leaning"]).numpy()
    assert used_length(ids, "argmax", None) == int(ids.argmax(1).max()) + 1 == 6
    assert used_length(ids, "eos", 49407) == 6
    with pytest.raises(ValueError, match="2-d"):
        used_length(ids[0], "argmax", None)


@pytest.mark.parametrize("text_cfg", [{"no_causal_mask": True}, {"pool_type": "first"}, {"pool_type": "last"}])
def test_towers_that_see_the_padding_fall_back_to_the_full_length(tmp_path: Path, text_cfg: dict) -> None:
    import open_clip

    config = json.loads((Path(onnx_text.__file__).parent / "model_configs" / "tiny-test.json").read_text())
    config["text_cfg"].update(text_cfg)
    name = "tiny-" + "-".join(f"{k}-{v}" for k, v in text_cfg.items()).lower()
    (tmp_path / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / f"{name}.json")
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    clip = OpenClipEmbedder(model, preprocess, open_clip.get_tokenizer(name), name, "none", "cpu")
    assert short_text_tower(clip.model) is None and clip._short_text is None
    assert cosines(clip.embed_texts(TEXTS), reference(clip, TEXTS)).min() >= 0.99999


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_clip) -> Path:  # type: ignore[no-untyped-def]
    library = tmp_path_factory.mktemp("onnx-library")
    assert tiny_clip.export_text_onnx(library)
    return library


def test_export_is_checked_against_torch_and_recorded(exported: Path, tiny_clip) -> None:
    meta = onnx_text.usable_export(exported, tiny_clip.fingerprint, None)
    assert meta is not None and meta.min_cosine >= onnx_text.MIN_COSINE and meta.dim == tiny_clip.dim
    assert not tiny_clip.export_text_onnx(exported), "exported once per library"
    folder = onnx_text.export_folder(exported, tiny_clip.fingerprint)
    weights, graph = (folder / onnx_text.WEIGHTS_FILE).stat().st_size, (folder / onnx_text.MODEL_FILE).stat().st_size
    assert weights > 4 * graph, "the weights live apart from the graph (mapped, not parsed, at session start)"


def test_an_export_with_the_weights_inside_the_graph_is_made_again(exported: Path, tmp_path: Path,
                                                                   tiny_clip) -> None:
    import shutil

    old = onnx_text.export_folder(tmp_path, tiny_clip.fingerprint)
    shutil.copytree(onnx_text.export_folder(exported, tiny_clip.fingerprint), old)
    meta = json.loads((old / onnx_text.META_FILE).read_text())
    (old / onnx_text.META_FILE).write_text(json.dumps({**meta, "format": 1}))
    assert onnx_text.usable_export(tmp_path, tiny_clip.fingerprint, None) is None


def test_the_export_is_saved_optimised_and_an_unoptimised_one_is_still_read(exported: Path, tmp_path: Path,
                                                                             tiny_clip) -> None:
    """The graph is ONNX Runtime's optimised one (its fused operators are in the file, so a session skips the
    optimisation pass); an export of the previous format (the graph as torch wrote it) stays in use."""
    import shutil

    import onnx

    folder = onnx_text.export_folder(exported, tiny_clip.fingerprint)
    graph = onnx.load(str(folder / onnx_text.MODEL_FILE), load_external_data=False)
    assert {"LayerNormalization", "FusedMatMul", "BiasGelu"} & {node.op_type for node in graph.graph.node}
    assert onnx_text.read_meta(folder).format == onnx_text.FORMAT == 3
    old = onnx_text.export_folder(tmp_path, tiny_clip.fingerprint)
    shutil.copytree(folder, old)
    meta = json.loads((old / onnx_text.META_FILE).read_text())
    (old / onnx_text.META_FILE).write_text(json.dumps({**meta, "format": 2}))
    assert onnx_text.usable_export(tmp_path, tiny_clip.fingerprint, None) is not None


def test_onnx_vectors_equal_torch_for_each_length_and_a_mixed_batch(exported: Path, tiny_clip) -> None:
    clip = load_clip("tiny-test", None, "cpu", library=exported, text_runtime="auto")
    assert isinstance(clip, OnnxTextClip) and clip.fingerprint == tiny_clip.fingerprint
    for text in TEXTS:
        assert cosines(clip.embed_texts([text]), reference(tiny_clip, [text]))[0] >= 0.9999, text
    assert cosines(clip.embed_texts(TEXTS + TRICKY), reference(tiny_clip, TEXTS + TRICKY)).min() >= 0.9999
    assert clip.embed_texts([]).shape == (0, tiny_clip.dim)


def test_unoptimised_session_gives_the_default_sessions_vectors(exported: Path, tiny_clip) -> None:
    """The encoder's session skips ONNX Runtime's graph optimisations (cheaper to create); its vectors are those
    of a session with the default options, to float rounding."""
    import onnxruntime as ort

    folder = onnx_text.export_folder(exported, tiny_clip.fingerprint)
    encoder = onnx_text.OnnxTextEncoder(folder, onnx_text.read_meta(folder))
    assert encoder._session.get_session_options().graph_optimization_level == \
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    default = ort.InferenceSession(str(folder / onnx_text.MODEL_FILE), providers=["CPUExecutionProvider"])
    for texts in ([text] for text in TEXTS + TRICKY):
        ids = encoder.tokenizer(texts)
        ids = ids[:, : used_length(ids, encoder.meta.pool, encoder.meta.eos_id)]
        ref = default.run(None, {"input_ids": ids})[0]
        ref /= np.linalg.norm(ref, axis=1, keepdims=True)
        assert np.abs(encoder.embed_texts(texts) - ref).max() < 1e-5, texts


def test_onnx_tokenizer_gives_open_clip_ids(exported: Path, tiny_clip) -> None:
    folder = onnx_text.export_folder(exported, tiny_clip.fingerprint)
    meta = onnx_text.read_meta(folder)
    ours = onnx_text.ClipTokenizer(folder / onnx_text.TOKENIZER_FILE, meta.sot_token, meta.eot_token,
                                   meta.context_length)
    texts = TEXTS + TRICKY
    assert np.array_equal(ours(texts), tiny_clip._tokenizer(texts).numpy())


def test_images_still_embed_through_the_torch_model(exported: Path, tiny_clip) -> None:
    from PIL import Image

    clip = load_clip("tiny-test", None, "cpu", library=exported)
    image = Image.new("RGB", (64, 48), "red")
    assert np.allclose(clip.embed_images([image]), tiny_clip.embed_images([image]), atol=1e-5)


def test_torch_runtime_and_stale_exports(exported: Path, tmp_path: Path, tiny_clip) -> None:
    assert isinstance(load_clip("tiny-test", None, "cpu", library=exported, text_runtime="torch"),
                      OpenClipEmbedder)
    weights = tmp_path / "tiny.pt"  # another weights file: the export of seed0 is not used for it
    torch.save(tiny_clip.model.state_dict(), weights)
    clip = load_clip("tiny-test", str(weights), "cpu", library=exported)
    assert isinstance(clip, OpenClipEmbedder) and clip.export_library is None, "auto: too small to export"
    with pytest.raises(ValueError, match="text_runtime"):
        load_clip("tiny-test", None, "cpu", library=exported, text_runtime="tensorrt")


def test_a_text_query_on_the_export_imports_neither_torch_nor_open_clip(exported: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from mmrag.models.clip_runtime import load_clip\n"
        f"clip = load_clip('tiny-test', None, 'cpu', library=Path({str(exported)!r}))\n"
        "v = clip.embed_texts(['a cat on a mat'])\n"
        "print(type(clip).__name__, v.shape, 'torch' in sys.modules, 'open_clip' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["OnnxTextClip", "(1,", "64)", "False", "False"]
